"""verify: does the running BIRD do what the plan says?

Place in the pipeline: after **reload**, closing the loop. `observe` reads the live daemon (over
its control socket) and the node's kernel; `drift` compares that with the plan, purely;
`transaction` reloads under BIRD's own `configure timeout` and confirms only what verifies;
`report` lays a comparison out for `birdgen status`.
"""
