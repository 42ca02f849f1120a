"""The in-memory PyTorch model: an ordinary ``nn.Module`` whose submodules are the plan's
modules (nested by block/repeat scope, so ``state_dict`` keys read ``encoder.0.dense.weight``)
and whose ``forward`` runs the plan's steps.  ``torch.compile``, ``torch.save``, DDP,
``.to(device)`` all work as on any module."""

from __future__ import annotations

import torch
from torch import nn

from .plan import FUNCTIONS, FnStep, ModuleStep, Plan

__all__ = ["SpeccModule", "Container"]


class Container(nn.Module):
    """Holds the layers of one block instance or repetition (no forward of its own)."""


class SpeccModule(nn.Module):
    """A PyTorch model compiled from a spec.  Inputs and outputs are channels-last, in the
    order the spec declares them; one output is returned as a tensor, several as a tuple."""

    def __init__(self, plan: Plan):
        super().__init__()
        object.__setattr__(self, "plan", plan)  # not a submodule, not in the state_dict
        self.spec_name = plan.model.name
        program = []
        made: dict[tuple[str, ...], nn.Module] = {}  # a shared layer's module, called again
        for step in plan.steps:
            if isinstance(step, ModuleStep) and step.attr in made:
                program.append((made[step.attr], tuple(step.inputs), tuple(step.outputs), None))
            elif isinstance(step, ModuleStep):
                parent: nn.Module = self
                for seg in step.attr[:-1]:
                    child = parent._modules.get(seg)
                    if child is None:
                        child = Container()
                        parent.add_module(seg, child)
                    parent = child
                mod = step.construct.build()
                parent.add_module(step.attr[-1], mod)
                made[step.attr] = mod
                program.append((mod, tuple(step.inputs), tuple(step.outputs), None))
            else:
                assert isinstance(step, FnStep)
                program.append((FUNCTIONS[step.fn], tuple(step.inputs), tuple(step.outputs), step.kwargs or None))
        object.__setattr__(self, "_program", program)
        # the step after which each value is no longer needed (a value no step reads dies
        # where it is made), so run() can let go of intermediates as the hand-written
        # forward of an nn.Module does: without it, every activation of an inference pass
        # would stay alive until the pass ends
        last: dict[str, int] = {}
        for i, (_, ins, outs, _) in enumerate(program):
            for v in (*ins, *outs):
                last[v] = i
        dies: list[list[str]] = [[] for _ in program]
        for v, i in last.items():
            dies[i].append(v)
        object.__setattr__(self, "_dies", tuple(tuple(d) for d in dies))
        object.__setattr__(self, "_drops", {})  # keep → per-step values to drop
        loss_program = [(FUNCTIONS[st.fn], tuple(st.inputs), st.outputs[0]) for st in plan.loss_steps]
        made = {out for _, _, out in loss_program}
        object.__setattr__(self, "_loss_program", loss_program)
        object.__setattr__(self, "_loss_keep", tuple(dict.fromkeys([*(i for _, ins, _ in loss_program for i in ins), *(v for v in plan.loss_inputs if v not in made)])))
        self.input_names = tuple(plan.inputs)

    def _drop_plan(self, keep: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
        drops = self._drops.get(keep)
        if drops is None:
            live = {*self.plan.outputs, *self.plan.inputs, *keep}
            drops = tuple(tuple(v for v in d if v not in live) for d in self._dies)
            self._drops[keep] = drops
        return drops

    def run(self, inputs, keep: tuple[str, ...] | bool = ()) -> dict[str, torch.Tensor]:
        """Run the plan; return the values of the outputs and of ``keep`` (all if True)."""
        env: dict[str, torch.Tensor] = dict(zip(self.plan.inputs, inputs, strict=True))
        if keep is True:
            for fn, ins, outs, kwargs in self._program:
                args = [env[i] for i in ins]
                res = fn(*args, **kwargs) if kwargs else fn(*args)
                if len(outs) == 1:
                    env[outs[0]] = res
                else:
                    env.update(zip(outs, res, strict=True))
            return env
        keep = tuple(keep)
        for (fn, ins, outs, kwargs), drop in zip(self._program, self._drop_plan(keep), strict=True):
            args = [env[i] for i in ins]
            if len(outs) == 1:
                env[outs[0]] = fn(*args, **kwargs) if kwargs else fn(*args)
            else:
                env.update(zip(outs, fn(*args, **kwargs) if kwargs else fn(*args), strict=True))
            for v in drop:
                del env[v]
        wanted = {*self.plan.outputs, *keep}
        return {k: env[k] for k in wanted}

    def run_for_loss(self, inputs, keep: tuple[str, ...] = ()) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
        """Run the plan for a loss: (the values of the outputs and ``keep``, and per output
        the canonical-layout value its loss reads — see ``Plan.loss_inputs``)."""
        env = self.run(inputs, tuple(dict.fromkeys((*self._loss_keep, *keep))))
        for fn, ins, out in self._loss_program:
            env[out] = fn(*(env[i] for i in ins))
        return env, [env[v] for v in self.plan.loss_inputs]

    def forward(self, *inputs: torch.Tensor, **named: torch.Tensor):
        if named:
            names = [i.name for i in self.plan.model.inputs]
            missing = [n for n in names[len(inputs) :] if n not in named]
            if missing:
                raise TypeError(f"missing model input(s): {', '.join(missing)}")
            inputs = (*inputs, *(named[n] for n in names[len(inputs) :]))
        if len(inputs) != len(self.plan.inputs):
            raise TypeError(f"{self.spec_name} takes {len(self.plan.inputs)} input(s), got {len(inputs)}")
        env = self.run(inputs)
        outs = tuple(env[o] for o in self.plan.outputs)
        return outs[0] if len(outs) == 1 else outs

    def extra_repr(self) -> str:
        return f"spec={self.spec_name!r}"
