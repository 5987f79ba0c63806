-- wrk script: each connection waits ARG milliseconds (default 20) before
-- each request, so the load is a steady rate (connections x 1000 / ARG
-- requests/s) instead of back to back.  wrk's latency counts from the
-- request's send: the wait is not in it.
--   wrk -c1 -s bench/pace.lua URL -- 20

local ms = 20

function init(args)
    if args[1] then
        ms = tonumber(args[1])
    end
end

function delay()
    return ms
end
