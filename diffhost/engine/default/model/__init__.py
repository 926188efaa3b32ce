"""The default model itself: the pipeline users load, the loop/phrase maker, the two small
networks, the DDIM sampler and the seed clip's features."""
