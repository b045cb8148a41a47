"""Neural model families (PyTorch): the shared trainer and torch base class live here;
each model is its own module. Imported lazily by ``recserve.algorithms`` discovery, so
torch is loaded only when a neural family is used or listed."""
