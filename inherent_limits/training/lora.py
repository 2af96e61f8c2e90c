"""Stage 3: LoRA supervised fine-tuning of a base model on a mixture.

The transformers Trainer with a peft LoRA adapter (defaults as the reference: r=64,
alpha=16, dropout 0.1, warmup 3%, length-grouped batches, gradient checkpointing, max
length 4096, evaluation every 10% and checkpoints every 20% of the steps). The loss
covers the whole text, as the reference's SFTTrainer on a text field does; an EOS
token ends every text. Runs on CPU (float32) or CUDA (bf16, optional 4-bit base).

saved_models/<run_name>/ receives the adapter, the tokenizer and run_info.json (written
last, so a folder without them is an unfinished run); checkpoints live beside them and
`resume` continues from the newest complete one (a checkpoint torn by a kill during its save
is removed, with a message). Each checkpoint also holds run_totals.json (the loss sum and
training seconds so far), so a resumed run logs the whole run's train_loss and runtime.

The end of a run is one recoverable step: the train_logs.csv row is saved as
pending_log_row.json with the adapter, the files are published (run_info.json last), the row
is appended once and the journal removed. A rerun (plain or --resume) after a kill anywhere in
that step finishes it; --resume on a finished run says so and changes nothing.
Under torchrun or `accelerate launch` every process trains, and the main one alone saves and
logs (the row's world_size counts the processes; its train_loss is averaged over them, as the
Trainer's own figure is).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from inherent_limits.core import checks, csv_logs
from inherent_limits.core.atomic_files import host_tag, pid_alive, recover
from inherent_limits.core.crash_points import crash_point
from inherent_limits.core.errors import UserError
from inherent_limits.core.run_info import RUN_INFO, git_hash
from inherent_limits.data.registry import PROMPTS_TYPES
from inherent_limits.prompts.mixtures import source_summary

JOURNAL = "pending_log_row.json"   # the run's train_logs.csv row, until it is logged
TOTALS = "run_totals.json"         # in each checkpoint: loss sum and training seconds up to it


@dataclass
class TrainRequest:
    root: Path
    dataset: str                      # mixture folder under data/ (or a path to a saved DatasetDict)
    model: str                        # base model: hub id, local path or "tiny"
    job: str
    run_name: Optional[str] = None    # default: a timestamp, as the reference
    num_train: Optional[int] = None   # training rows (default: all)
    num_val: int = 2                  # validation rows (the reference uses 2)
    batch_size: int = 1
    num_epochs: float = 1.0
    learning_rate: float = 5e-5
    seed: int = 42
    lora_r: int = 64
    lora_alpha: int = 16
    lora_dropout: float = 0.1
    max_length: int = 4096
    warmup_ratio: float = 0.03
    gradient_checkpointing: bool = True
    gradient_accumulation_steps: int = 1
    report_to: str = "none"
    resume: bool = False
    load_in_4bit: bool = False


def check_request(req: TrainRequest) -> None:
    """Hyperparameters, loggers and the root, checked before any data or model loads."""
    checks.at_least("--batch_size", req.batch_size, 1)
    checks.at_least("--gradient_accumulation_steps", req.gradient_accumulation_steps, 1)
    checks.positive("--learning_rate", req.learning_rate)
    checks.positive("--num_epochs", req.num_epochs)
    checks.at_least("--num_train", req.num_train, 1)
    checks.at_least("--num_val", req.num_val, 0)
    checks.at_least("--max_length", req.max_length, 2)  # one text token and the EOS
    checks.at_least("--lora_r", req.lora_r, 1)
    checks.positive("--lora_alpha", req.lora_alpha)
    checks.fraction("--lora_dropout", req.lora_dropout, upper_open=True)
    checks.fraction("--warmup_ratio", req.warmup_ratio)
    checks.loggers_installed(req.report_to)
    checks.writable_root(req.root)


def dataset_name(dataset: Optional[str], prompts_type: Optional[int]) -> str:
    """--dataset, else the reference's --prompts_type index into its list of mixtures."""
    if dataset:
        return dataset
    if prompts_type is None:
        raise UserError("which mixture? pass --dataset <name under data/> or --prompts_type <index>")
    if not 0 <= prompts_type < len(PROMPTS_TYPES):
        listing = ", ".join(f"{i}={n}" for i, n in enumerate(PROMPTS_TYPES))
        raise UserError(f"--prompts_type {prompts_type} out of range; choose from {listing}")
    return PROMPTS_TYPES[prompts_type]


def load_mixture(root: Path, dataset: str, num_train: Optional[int], num_val: int, seed: int):
    """(train, validation) of a saved mixture; the first rows of each, shuffled with the seed."""
    for candidate in (Path(dataset), root / "data" / dataset):
        recover(candidate)  # a kill during make_mixtures.py --overwrite
    path = Path(dataset) if Path(dataset).is_dir() else root / "data" / dataset
    if not (path / "dataset_dict.json").is_file():
        built = sorted(p.name for p in (root / "data").glob("[!.]*_mixture*")) if (root / "data").is_dir() else []
        raise UserError(f"mixture {path} not found (make it with make_mixtures.py); mixtures under "
                        f"{root / 'data'}: {', '.join(built) or 'none'}")
    # in memory: shuffling and tokenising then leave no cache files in the mixture's folder
    data = checks.load_saved_dataset(path, "rebuild it with make_mixtures.py --overwrite", in_memory=True)
    train, val = data["train"], data["test"]
    if num_train is not None:
        if num_train > len(train):
            print(f"--num_train {num_train} > {len(train)} rows in {path}: training on all of them")
        train = train.select(range(min(num_train, len(train))))
    if len(train) == 0:
        raise UserError(f"{path}: the training split is empty")
    return train.shuffle(seed=seed), val.select(range(min(num_val, len(val)))).shuffle(seed=seed)


def tokenize(dataset, tokenizer, max_length: int):
    """input_ids of each text, truncated to max_length, always ending with EOS."""
    eos = tokenizer.eos_token_id

    def encode(batch):
        ids = tokenizer(batch["text"], truncation=True, max_length=max_length - 1)["input_ids"]
        ids = [x if x and x[-1] == eos else x + [eos] for x in ids]
        return {"input_ids": ids, "length": [len(x) for x in ids]}

    return dataset.map(encode, batched=True, remove_columns=dataset.column_names, desc="tokenize")


def collate_padded(tokenizer):
    """A collator padding input_ids; labels are the ids with padding positions (attention mask 0) set
    to -100, never masked by token id, so the EOS ending each text is learned even when pad == EOS."""
    def collate(features):
        batch = tokenizer.pad([{"input_ids": f["input_ids"]} for f in features], return_tensors="pt")
        batch["labels"] = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        return batch

    return collate


def output_dir(req: TrainRequest) -> Path:
    name = req.run_name or time.strftime("%Y%m%d_%H%M%S")
    path = req.root / "saved_models" / name
    _recover_publish(path)
    if (path / RUN_INFO).is_file() and not req.resume and not (path / JOURNAL).is_file():
        raise UserError(f"{path} holds a finished run: choose another --run_name")
    if req.resume and not req.run_name:
        raise UserError("--resume needs --run_name of the interrupted run")
    return path


def _step(checkpoint: Path) -> int:
    match = re.fullmatch(r"checkpoint-(\d+)", checkpoint.name)
    return int(match[1]) if match else -1


def _safetensors_complete(path: Path) -> bool:
    """Whether a .safetensors file holds all the bytes its header names."""
    try:
        with open(path, "rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(size))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    return path.stat().st_size >= 8 + size + end


def checkpoint_problem(checkpoint: Path) -> Optional[str]:
    """What is missing or cut in a checkpoint folder (a kill during its save), or None if complete."""
    for name in ("trainer_state.json", "adapter_config.json"):
        try:
            json.loads((checkpoint / name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return f"{name} missing"
        except (OSError, ValueError):
            return f"{name} truncated"
    for name in ("optimizer.pt", "scheduler.pt"):  # torch.save writes zip archives: a cut one has no end record
        if not (checkpoint / name).is_file():
            return f"{name} missing"
        if not zipfile.is_zipfile(checkpoint / name):
            return f"{name} truncated"
    weights = checkpoint / "adapter_model.safetensors"
    if weights.is_file():
        return None if _safetensors_complete(weights) else "adapter_model.safetensors truncated"
    weights = checkpoint / "adapter_model.bin"
    if not weights.is_file():
        return "adapter weights missing"
    return None if zipfile.is_zipfile(weights) else "adapter_model.bin truncated"


def last_checkpoint(out: Path) -> Optional[Path]:
    """The newest complete checkpoint; torn newer ones are removed, with a message."""
    checkpoints = sorted((p for p in out.glob("checkpoint-*") if _step(p) >= 0), key=_step, reverse=True) \
        if out.is_dir() else []
    for checkpoint in checkpoints:
        problem = checkpoint_problem(checkpoint)
        if problem is None:
            return checkpoint
        print(f"{checkpoint} is incomplete ({problem}; killed while saving?): removing it and "
              "resuming from the previous checkpoint")
        shutil.rmtree(checkpoint)
    return None


def saved_totals(checkpoint: Path) -> dict:
    """{"loss_sum", "seconds"} of the run up to a checkpoint.

    A checkpoint without run_totals.json (saved by an older version, or killed just before it was
    written) gets its loss sum from the losses logged in trainer_state.json, and no seconds.
    """
    try:
        saved = json.loads((checkpoint / TOTALS).read_text(encoding="utf-8"))
        return {"loss_sum": float(saved["loss_sum"]), "seconds": float(saved["train_seconds"])}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    loss_sum, last = 0.0, 0
    for entry in state.get("log_history", []):
        if "loss" in entry and "step" in entry:
            loss_sum += entry["loss"] * (entry["step"] - last)
            last = entry["step"]
    print(f"{checkpoint} has no {TOTALS}: train_loss estimated from its logged losses, "
          "train_runtime_s covers the resumed part only")
    return {"loss_sum": loss_sum * state.get("global_step", last) / max(last, 1), "seconds": 0.0}


def mean_over_ranks(value: float) -> float:
    """`value` averaged over the processes of a torchrun / accelerate run (itself in a single process).

    Every process must call it at the same point: it is a collective all-reduce.
    """
    import torch
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return float(tensor.item()) / dist.get_world_size()


def _totals_callback(totals: dict):
    """A TrainerCallback that saves `totals` (loss sum averaged over ranks, seconds) into each checkpoint."""
    from transformers import TrainerCallback

    class SaveTotals(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            loss_sum = mean_over_ranks(totals["loss_sum"])  # every rank calls on_save: a safe collective
            if state.is_world_process_zero:
                folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                record = {"global_step": state.global_step, "loss_sum": loss_sum,
                          "train_seconds": totals["seconds"] + time.time() - totals["started"]}
                tmp = folder / f".{TOTALS}.tmp"
                tmp.write_text(json.dumps(record), encoding="utf-8")
                os.replace(tmp, folder / TOTALS)
            crash_point(f"train_checkpoint-{state.global_step}")

    return SaveTotals()


def _totals_trainer(trainer_class, totals: dict):
    """The Trainer class, adding each training step's loss to totals["loss_sum"]."""
    class TotalsTrainer(trainer_class):
        def training_step(self, *args, **kwargs):
            loss = super().training_step(*args, **kwargs)
            totals["loss_sum"] += float(loss)
            return loss

    return TotalsTrainer


_FINAL = re.compile(r"^\.final-(?P<host>[^-]+)-(?P<pid>\d+)$")


def _move_in(tmp: Path, out: Path) -> None:
    """Move a publish folder's files into the run folder: adapter_config.json, then run_info.json last."""
    for item in sorted(tmp.iterdir(), key=lambda p: (p.name == RUN_INFO, p.name == "adapter_config.json")):
        os.replace(item, out / item.name)
    tmp.rmdir()


def _recover_publish(out: Path) -> None:
    """Finish a publish killed midway (its folder complete) or remove an incomplete one; name others."""
    for tmp in sorted(out.glob(".final-*")) if out.is_dir() else []:
        match = _FINAL.match(tmp.name)
        if not match:
            continue
        if match["host"] != host_tag():
            print(f"note: {tmp} was left by pid {match['pid']} on host {match['host']}")
        elif not pid_alive(int(match["pid"])):
            if (tmp / RUN_INFO).is_file():  # written last into the folder: the folder is complete
                _move_in(tmp, out)
                print(f"finished publishing {out}, interrupted by a kill")
            else:
                shutil.rmtree(tmp)
                print(f"removed {tmp}, an unfinished publish of a killed run")


def _publish(model, tokenizer, out: Path, info: dict, row: dict) -> None:
    """Adapter, tokenizer and the log row's journal through a temporary folder; run_info.json last."""
    tmp = out / f".final-{host_tag()}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    (tmp / JOURNAL).write_text(json.dumps(row), encoding="utf-8")
    (tmp / RUN_INFO).write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    crash_point("train_publish_staged")
    _move_in(tmp, out)


def _log_finished(root: Path, out: Path) -> bool:
    """Append the journal's row to train_logs.csv unless it is there; remove the journal. True if appended."""
    journal = out / JOURNAL
    row = json.loads(journal.read_text(encoding="utf-8"))
    appended = csv_logs.append_row_once(root / csv_logs.TRAIN_LOG, row, key=tuple(row),
                                        leading=csv_logs.TRAIN_COLUMNS)
    journal.unlink()
    return appended


def _already_finished(req: TrainRequest, out: Path) -> Path:
    """A rerun on a published run: log its pending row, or say that nothing is left to do."""
    if (out / JOURNAL).is_file():
        appended = _log_finished(req.root, out)
        print(f"{out} was published before a kill; its train_logs.csv row "
              + ("is now appended" if appended else "was already there"))
    else:
        print(f"{out} holds a finished run: nothing to resume, nothing changed")
    return out


def _checkpointing(arguments_class, enabled: bool) -> dict:
    """Activation checkpointing under the argument names of the installed transformers."""
    import inspect
    names = inspect.signature(arguments_class.__init__).parameters
    prefix = "activation" if "activation_checkpointing" in names else "gradient"
    return {f"{prefix}_checkpointing": enabled, f"{prefix}_checkpointing_kwargs": {"use_reentrant": False}}


def _template_columns(dataset: str) -> dict:
    """The reference logs the SampleGen templates; a Regular-Prompt mixture uses none."""
    if "mix_prompts" in dataset:
        return {"outer_template": "outer-template-4", "inner_template": "gen-inner-template-num2", "num_inner": 2}
    return {"outer_template": None, "inner_template": None, "num_inner": None}


def train(req: TrainRequest) -> Path:
    """Train, save the adapter under saved_models/<run_name>/, append train_logs.csv; returns the folder."""
    check_request(req)  # hyperparameters, loggers and root, before anything loads
    out = output_dir(req)
    if (out / RUN_INFO).is_file():
        return _already_finished(req, out)
    csv_logs.check_log(req.root / csv_logs.TRAIN_LOG)  # a damaged log fails now, not after training
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainingArguments, set_seed

    from inherent_limits.models.loading import device_name, load_model, load_tokenizer, resolve_model_name

    train_set, val_set = load_mixture(req.root, req.dataset, req.num_train, req.num_val, req.seed)
    cuda = torch.cuda.is_available()
    path = resolve_model_name(req.model)  # may build or convert a model, drawing random numbers: before the seed
    set_seed(req.seed)
    tokenizer = load_tokenizer(path, padding_side="right")
    model = load_model(path, load_in_4bit=req.load_in_4bit, trainable=True)
    if req.load_in_4bit:
        from peft import prepare_model_for_kbit_training
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=req.gradient_checkpointing)
    lora = LoraConfig(r=req.lora_r, lora_alpha=req.lora_alpha, lora_dropout=req.lora_dropout, bias="none",
                      task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    model.print_trainable_parameters()
    args = TrainingArguments(
        output_dir=str(out), run_name=out.name, seed=req.seed, num_train_epochs=req.num_epochs,
        per_device_train_batch_size=req.batch_size, per_device_eval_batch_size=req.batch_size,
        gradient_accumulation_steps=req.gradient_accumulation_steps, learning_rate=req.learning_rate,
        warmup_steps=req.warmup_ratio, train_sampling_strategy="group_by_length",
        **_checkpointing(TrainingArguments, req.gradient_checkpointing),
        eval_strategy="steps" if len(val_set) else "no", eval_steps=0.1, prediction_loss_only=True,
        save_strategy="steps", save_steps=0.2, logging_steps=0.1, report_to=req.report_to,
        bf16=cuda, use_cpu=not cuda, dataloader_num_workers=0,
    )
    checkpoint = last_checkpoint(out) if req.resume else None
    totals = {"loss_sum": 0.0, "seconds": 0.0}
    if checkpoint:
        totals.update(saved_totals(checkpoint))
    trainer = _totals_trainer(Trainer, totals)(
                      model=model, args=args, processing_class=tokenizer, callbacks=[_totals_callback(totals)],
                      train_dataset=tokenize(train_set, tokenizer, req.max_length),
                      eval_dataset=tokenize(val_set, tokenizer, req.max_length) if len(val_set) else None,
                      data_collator=collate_padded(tokenizer))
    if req.resume:
        print(f"resuming from {checkpoint}" if checkpoint else f"no checkpoint in {out}: starting afresh")
    totals["started"] = time.time()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    seconds = totals["seconds"] + time.time() - totals["started"]
    # the whole run's, averaged over the processes as the Trainer's figure is
    loss = mean_over_ranks(totals["loss_sum"]) / max(trainer.state.global_step, 1)
    world_size = trainer.args.world_size  # > 1 under torchrun / accelerate launch
    if not trainer.is_world_process_zero():
        return out  # the main process alone saves the adapter and writes the run info and log row
    info = {"base_model": req.model, "dataset": req.dataset, "train_runtime_s": round(seconds, 2),
            "train_loss": loss, "device": device_name(), "world_size": world_size,
            "git_hash": git_hash(),
            "request": {k: str(v) for k, v in asdict(req).items()}}
    row = {"job_id": f"job-{req.job}", "seed": req.seed, "run_name": out.name, "model_name": req.model,
           "dataset": req.dataset, **_template_columns(req.dataset), "epochs": req.num_epochs,
           "num_train": len(train_set), "batch_size": req.batch_size, "device": device_name(),
           "world_size": world_size, "learning_rate": req.learning_rate, "lora_r": req.lora_r,
           "train_loss": loss, "train_runtime_s": round(seconds, 2), "data_source": source_summary(
               Path(req.dataset) if Path(req.dataset).is_dir() else req.root / "data" / req.dataset),
           "train_samples_per_s": round(len(train_set) * req.num_epochs / max(seconds, 1e-9), 3),
           "git_hash": git_hash()}
    _publish(model, tokenizer, out, info, row)
    crash_point("train_published")
    _log_finished(req.root, out)
    return out
