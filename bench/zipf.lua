-- bench/zipf.lua: wrk script for the Zipf path of bench/authz.pl
--
--   wrk -s bench/zipf.lua URL -- TOKENS GENS MODE S NTEAMS SEED
--
-- TOKENS: one JWT per line, line i for user i (rank i: user 1 is the most
-- popular); GENS: one generation UUID per line, line j for generation j.
-- Every request is GET /gen/UUID with "Authorization: Bearer TOKEN" and
-- "X-Bench-User: i" (for the access log: the user even when the module
-- does not say):
--
--   MODE independent   user rank ~ Zipf(S) over all users, generation rank
--                      ~ Zipf(S) over all generations, independently
--   MODE team          user rank ~ Zipf(S); the generation is drawn, by
--                      Zipf(S) too, among the generations of the user's own
--                      team (bench/gen-data.sql: user i is in team
--                      ((i - 1) % NTEAMS) + 1, generation j in team
--                      ((j - 1) % NTEAMS) + 1)
--
-- The Zipf draws are a binary search in a precomputed CDF; each wrk thread
-- has its own Lua state, seeded with SEED + its number.

local tokens, gens = {}, {}
local ucdf, gcdf
local mode, nteams

local function cdf(n, s)
    local c, sum = {}, 0
    for k = 1, n do
        sum = sum + k ^ (-s)
        c[k] = sum
    end
    for k = 1, n do
        c[k] = c[k] / sum
    end
    c[n] = 1.0
    return c
end

-- the smallest k with c[k] >= u
local function draw(c)
    local u = math.random()
    local lo, hi = 1, #c
    while lo < hi do
        local mid = math.floor((lo + hi) / 2)
        if c[mid] < u then lo = mid + 1 else hi = mid end
    end
    return lo
end

local counter = 0

function setup(thread)
    counter = counter + 1
    thread:set("thread_no", counter)
end

function init(args)
    local tf, gf = args[1], args[2]
    mode = args[3] or "independent"
    local s = tonumber(args[4] or "1.1")
    nteams = tonumber(args[5] or "1000")
    local seed = tonumber(args[6] or "1")

    for line in io.lines(tf) do tokens[#tokens + 1] = "Bearer " .. line end
    for line in io.lines(gf) do gens[#gens + 1] = line end
    assert(#tokens > 0 and #gens > 0, "zipf.lua: empty token or generation file")

    ucdf = cdf(#tokens, s)
    if mode == "team" then
        gcdf = cdf(math.floor(#gens / nteams), s)
    elseif mode == "independent" then
        gcdf = cdf(#gens, s)
    else
        error("zipf.lua: unknown mode " .. mode)
    end

    math.randomseed(seed * 1000 + (thread_no or 0))
    for _ = 1, 10 do math.random() end
end

function request()
    local u = draw(ucdf)
    local g
    if mode == "team" then
        g = (u - 1) % nteams + 1 + nteams * (draw(gcdf) - 1)
    else
        g = draw(gcdf)
    end
    return wrk.format("GET", "/gen/" .. gens[g],
                      { Authorization = tokens[u], ["X-Bench-User"] = u })
end
