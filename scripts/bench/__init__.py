"""The benchmarks: `python -m scripts.bench` (make bench) runs the measurements in `runner`, one
module each (train, search, latency, publish_live, gateway, lawbench) over the shared `common`
helpers and the running `stack`, and writes bench/results.{json,md} with `report`. Beside it:
`compare` (make bench-compare), `cluster` (make bench-cluster) and `gateway_load` (the
gateway's own load bench, also run by the stack section)."""
