# Builds ngx_http_velro_module against Debian's nginx and runs the demo
# gateway with its PostgreSQL and Redis (as make run does):
#   docker build -t velro . && docker run -p 8080:8080 velro

FROM debian:bookworm AS build

RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        make gcc libc6-dev nginx-dev libssl-dev libjansson-dev \
        libhiredis-dev libpq-dev libpcre2-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY config Makefile ./
COPY src src
RUN make module BUILD=/src/build


FROM debian:bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        nginx-core libjansson4 libhiredis0.14 libpq5 openssl \
        libcrypt-jwt-perl postgresql redis-server \
    && rm -rf /var/lib/apt/lists/*

COPY --from=build /src/build/ngx_http_velro_module.so \
    /usr/lib/nginx/modules/ngx_http_velro_module.so
COPY conf /opt/velro/conf
COPY sql /opt/velro/sql

ENV VELRO_LISTEN=0.0.0.0:8080 VELRO_RUN_DIR=/var/lib/velro
EXPOSE 8080

CMD ["sh", "/opt/velro/conf/demo/run.sh", "/usr/sbin/nginx", \
     "/usr/lib/nginx/modules/ngx_http_velro_module.so"]
