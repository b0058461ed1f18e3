"""What the pages share: the data, the model being built, the trained model, and how to train it.

Each page reads and writes this one object and never another page's widgets. Every field is
replaced only by a complete, checked value: a bad file or a broken layer stack leaves the last good
one in place, so nothing a student did is lost by one mistake.
"""

from __future__ import annotations

import param

from hearth.i18n import N_, t
from hearth.train.data import Dataset
from hearth.train.spec import ModelSpec, TrainConfig
from hearth.train.trainer import Evaluation, Trainer

# Training refuses a broken stack rather than quietly training the last one that worked: what a student
# trains is then always the network they see on the Build page.
TRAINING_WAITS = N_("Start training is off until the network on the Build page works.")


class AppState(param.Parameterized):
    dataset = param.ClassSelector(class_=Dataset, default=None, allow_None=True,
                                  doc="The data to train on (Data page).")
    data_source = param.Dict(default={"kind": "builtin", "name": "digits"},
                             doc="How the dataset was loaded, for the Python page's scripts.")
    spec = param.ClassSelector(class_=ModelSpec, default=None, allow_None=True,
                               doc="The last model stack that built (Build page): what Start trains, while "
                                   "the Build page shows no problem (the Python and Export pages show it then too).")
    spec_draft_ok = param.Boolean(default=True, doc="False while the Build page shows a broken stack.")
    spec_problem = param.String(default=None, allow_None=True,
                                doc="What is wrong with the stack the Build page shows (None: nothing).")
    loaded_spec = param.Integer(default=0, doc="Bumped when a spec arrives from outside the Build page "
                                               "(a project file), so the Build page shows it.")
    config = param.ClassSelector(class_=TrainConfig, default=TrainConfig(learning_rate=0.01),
                                doc="Training settings (Train page); a brisk Adam rate so small nets learn in "
                                    "a few epochs.")
    trainer = param.ClassSelector(class_=Trainer, default=None, allow_None=True,
                                  doc="The trained model that Evaluate, Predict and Export use.")
    evaluation = param.ClassSelector(class_=Evaluation, default=None, allow_None=True,
                                     doc="The trained model on its validation data.")
    training = param.Boolean(default=False, doc="True while a training run is going.")
    providers = param.List(default=["wasm"], doc="Backends this browser has (wasm, webgpu).")
    provider = param.String(default="wasm", doc="The backend training uses.")
    project_name = param.String(default="hearth_model")

    def network_problem(self) -> str | None:
        """What the Build and Train pages both say while the stack on the Build page cannot train
        (None when it can). One sentence for both, so the two pages never disagree."""
        if self.spec_problem is None:
            return None
        return t("Not ready: {problem}.", problem=self.spec_problem) + " " + t(TRAINING_WAITS)

    @property
    def outputs(self) -> int | None:
        """What the last layer must give for the current data: one per class (or target)."""
        if self.dataset is None:
            return None
        return len(self.dataset.classes) if self.dataset.is_classification else int(self.dataset.y.shape[1])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.dataset.sample_shape if self.dataset is not None else (8, 8, 1)

    @property
    def images(self) -> bool:
        return len(self.input_shape) == 3

    async def use_trainer(self, trainer: Trainer) -> None:
        """Make `trainer` the model the other pages use, with its evaluation on the validation data."""
        evaluation = await trainer.evaluate() if len(trainer.val_data) else None
        self.param.update(trainer=trainer, evaluation=evaluation)
