print("no tensors here", sum(range(10)))
