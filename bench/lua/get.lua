-- GET the URL given on the command line; prints latency percentiles as JSON when done.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
