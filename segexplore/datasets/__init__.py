"""The bundled sample base and its generator."""
