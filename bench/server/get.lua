-- GET one path (given with the URL); headers come from wrk's -H options.
dofile(os.getenv("BENCH_LUA_DIR") .. "/stats.lua")
