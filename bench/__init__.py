"""Train N seeded MLPs on MNIST and evaluate them under shared Gaussian noise."""
