"""pytorch-lightning calls backward itself (library code) inside Trainer.fit."""
import torch
import pytorch_lightning as pl
from torch.utils.data import DataLoader, TensorDataset
import _facts


class Regressor(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)
        self.backwards = 0

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def on_after_backward(self):
        self.backwards += 1

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


data = TensorDataset(torch.randn(8, 2), torch.randn(8, 1))
model = Regressor()
trainer = pl.Trainer(max_steps=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False)
trainer.fit(model, DataLoader(data, batch_size=2))
_facts.dump({"backwards": model.backwards, "params": [n for n, _ in model.named_parameters()]},
            weight=model.layer.weight, bias=model.layer.bias)
