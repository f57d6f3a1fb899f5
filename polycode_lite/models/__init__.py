"""Networks and how to look inside them: hooks, toy models, the ResNet VAE, dropout nets, the probe CNN, language models, checkpoints."""
