"""Learning core: labels, splits, dataset, the CNN, the trainer, metrics."""
