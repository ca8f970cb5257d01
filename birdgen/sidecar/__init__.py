"""sidecar: `birdgen run`, the long-running edge around the pure pipeline.

Place in the pipeline: sources (KubeWatcher, watched files) -> **debounce -> reconcile** ->
`pipeline.render_objects` -> `pipeline.apply` -> reload. Nothing here plans or renders; the
modules only decide *when* to run the pipeline and what to do with its outcome:

- `debounce`: batches bursts of changes (quiet period, capped total delay);
- `reconcile`: one step (render, stage/check/rename, reload), last-good state, backoff;
- `loop`: the thin thread wiring sources -> debouncer -> reconciler, and clean shutdown;
- `metrics`, `http`, `logs`: what an operator sees.
"""
