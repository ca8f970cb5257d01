"""birdgen: render BIRD 2 configs that advertise Kubernetes Service IPs over BGP, as Calico does.

The pipeline, one package per stage:

    sources  ->  model  ->  plan  ->  render  ->  write  ->  reload
    (dicts)     (frozen    (what this   (bird.conf  (stage,      (tell BIRD)
                 records)   node says)   text)       check, rename)

`birdgen.pipeline` composes the stages with the edges injected, so the one-shot `render`,
the `run` sidecar and the golden tests all run the same code.
"""

__version__ = "0.1.0"
