"""The mechanism: model families and their adapter, loading, the classifier, activation capture, model passes, neuron
removal and refit, importance scores and timing. Imports only ``base`` and ``stats``: no study, no presentation."""
