-- bench/post.lua: wrk sends the same POST again and again (bench/authz.pl,
-- path batch):  wrk -s bench/post.lua URL -- BODY_FILE TOKEN
--   BODY_FILE  the request body, sent as application/json
--   TOKEN      sent as "Authorization: Bearer TOKEN"

function init(args)
    local f = assert(io.open(args[1], "rb"))
    wrk.method = "POST"
    wrk.body = f:read("*a")
    f:close()
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer " .. args[2]
end
