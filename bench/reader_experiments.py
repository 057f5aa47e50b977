"""A MiniLM cross-encoder reader for the extractive answerer, cross-validated by question set (issue 15).

The reader scores (question part, candidate quote) pairs together; it is the packaged
all-MiniLM-L6-v2 with its embeddings and lower layers frozen and the top `--train-layers`
transformer layers plus a linear head on the mean-pooled tokens trained. Pairs come from the
examples `python -m rag.train` collects (bench/out/scorer-examples.pkl): a candidate is positive
when the question is answerable, its source is gold and its quote (with its antecedent) holds every
key (half of them for a part of a compound question). Lower-layer states are computed once and
cached (bench/out/reader-states.pt); each fold trains only the top layers on them.

Leave-one-group-out (seed, bbc, bbc-train, the three held-out batches): per held-out group the
answer is the best-scoring candidate of each part, abstaining when its probability is under a
threshold chosen on the other groups' out-of-fold probabilities (the highest keeping false
abstention <= 10% there). Printed side by side, per group: the rules (`rag eval` run folders given
with --rules-runs, their per-question pass/abstain), the fitted logistic regression (rag.fit, its
shipped pool/gap, same threshold rule and its own balanced threshold) and the reader. AUC: of the
answer probability for "the answer given holds every key" over all questions of the group.
`--combine` adds the logistic regression with the reader's out-of-fold logit as one more feature;
`--folds G` only trains and scores those held-out groups (a probe), printing the first-place rate.
Results and reading: bench/compare.md, "Issue 15: a fine-tuned MiniLM cross-encoder reader".

    .venv/bin/python bench/reader_experiments.py --train-layers 1 --epochs 3 --lr 5e-4 \
        --rules-runs bench/out/rules-seed bench/out/rules-bbc bench/out/rules-bbc-heldout bench/out/rules-bbc-train
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

import numpy as np
import torch
from common import OUT

from rag import fit
from rag.embed import packaged_model_path

POOL = 12  # candidates scored per part (the first of rag.features.prefiltered's order)
NEGATIVES = 7  # negatives kept per part in training (all positives kept)
MAX_LENGTH = 160
SEED = 0
FA_LIMIT = 0.10
SEGMENTS: list[torch.Tensor] = []  # per pair, 1 on the sentence's tokens (--pool-sentence: the head pools those)


def load_base():
    from transformers import AutoModel, AutoTokenizer

    path = packaged_model_path()
    model = AutoModel.from_pretrained(str(path), attn_implementation="eager")
    return AutoTokenizer.from_pretrained(str(path)), model.eval()


def part_label(answerable: bool, parts: int, share: float, gold: bool) -> int:
    return int(answerable and gold and share >= (1.0 if parts == 1 else 0.5))


def pair_index(examples) -> list[tuple[int, int, int, int]]:
    """(example, part, candidate, label) of every candidate in the first POOL of each part."""
    rows = []
    for ei, e in enumerate(examples):
        for pi, p in enumerate(e.parts):
            for ci in range(min(POOL, len(p.texts))):
                rows.append((ei, pi, ci, part_label(e.answerable, len(e.parts), float(p.key_share[ci]),
                                                    bool(p.gold[ci]))))
    return rows


def lower_states(examples, rows, tokenizer, model, train_layers: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The input of the first trained layer for every pair (cached on disk), with its attention mask."""
    cache = OUT / f"reader-states-{train_layers}-{MAX_LENGTH}.pt"
    if cache.exists():
        return torch.load(cache)
    deeper = OUT / f"reader-states-{train_layers + 1}-{MAX_LENGTH}.pt"
    if deeper.exists():  # one frozen layer more over the cached states
        states = through(torch.load(deeper), model.encoder.layer[-train_layers - 1])
        torch.save(states, cache)
        return states
    states = []
    cut = model.config.num_hidden_layers - train_layers
    with torch.inference_mode():
        for start in range(0, len(rows), 64):
            batch = rows[start:start + 64]
            qs = [examples[ei].parts[pi].text for ei, pi, _, _ in batch]
            ss = [examples[ei].parts[pi].quotes[ci] for ei, pi, ci, _ in batch]
            enc = tokenizer(qs, ss, truncation="longest_first", max_length=MAX_LENGTH, padding=True,
                            return_tensors="pt")
            out = model(**enc, output_hidden_states=True).hidden_states[cut]
            for h, m in zip(out, enc["attention_mask"], strict=True):
                n = int(m.sum())
                states.append((h[:n].to(torch.float16).clone(), torch.ones(n, dtype=torch.long)))
            print(f"\rlower states {start + len(batch)}/{len(rows)}", end="", flush=True)
    print()
    torch.save(states, cache)
    return states


def segments(examples, rows, tokenizer) -> list[torch.Tensor]:
    """Per pair, the token type ids (1 on the sentence's tokens), as lower_states tokenised it."""
    found = []
    for ei, pi, ci, _ in rows:
        part = examples[ei].parts[pi]
        enc = tokenizer(part.text, part.quotes[ci], truncation="longest_first", max_length=MAX_LENGTH)
        found.append(torch.tensor(enc["token_type_ids"]))
    return found


def through(states, layer) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The states passed through one frozen layer (batched by length)."""
    order = np.argsort([h.shape[0] for h, _ in states])
    out: list = [None] * len(states)
    with torch.inference_mode():
        for start in range(0, len(order), 64):
            idx = order[start:start + 64]
            hidden, mask = padded(states, idx)
            extended = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
            result = layer(hidden, extended)
            result = result[0] if isinstance(result, tuple) else result
            for k, i in enumerate(idx):
                n = states[i][0].shape[0]
                out[i] = (result[k, :n].to(torch.float16).clone(), states[i][1])
    return out


class Top(torch.nn.Module):
    """The trained part: the top transformer layers and a linear head on the mean-pooled tokens."""

    def __init__(self, model, train_layers: int) -> None:
        super().__init__()
        import copy

        self.config = model.config
        self.layers = torch.nn.ModuleList(copy.deepcopy(model.encoder.layer[-train_layers:]))
        self.head = torch.nn.Linear(model.config.hidden_size, 1)
        torch.nn.init.normal_(self.head.weight, std=0.02)
        torch.nn.init.zeros_(self.head.bias)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """`mask`: 0 padding, 1 a token (2 a token of the sentence, with --pool-sentence)."""
        attend = (mask > 0).to(hidden.dtype)
        extended = (1.0 - attend[:, None, None, :]) * torch.finfo(hidden.dtype).min
        for layer in self.layers:
            hidden = layer(hidden, extended)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
        pool = (mask == 2).to(hidden.dtype) if SEGMENTS else attend
        pooled = (hidden * pool[..., None]).sum(1) / pool.sum(1, keepdim=True).clamp(min=1)
        return self.head(pooled).squeeze(-1)


def padded(states, idx):
    items = [states[i] for i in idx]
    n = max(h.shape[0] for h, _ in items)
    hidden = torch.zeros(len(items), n, items[0][0].shape[1])
    mask = torch.zeros(len(items), n, dtype=torch.long)
    for k, (h, m) in enumerate(items):
        hidden[k, :len(h)] = h.float()
        mask[k, :len(m)] = m + SEGMENTS[idx[k]][:len(m)] if SEGMENTS else m
    return hidden, mask


def training_rows(rows, chosen_examples: set[int], rng: np.random.Generator) -> list[int]:
    """Rows of the chosen examples: every positive, up to NEGATIVES negatives per part (random)."""
    by_part: dict[tuple[int, int], list[int]] = {}
    for r, (ei, pi, _, _) in enumerate(rows):
        if ei in chosen_examples:
            by_part.setdefault((ei, pi), []).append(r)
    kept = []
    for members in by_part.values():
        pos = [r for r in members if rows[r][3]]
        neg = [r for r in members if not rows[r][3]]
        kept += pos + list(rng.permutation(neg)[:NEGATIVES])
    return kept


def train_top(model, states, rows, train_idx, args) -> Top:
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    top = Top(model, args.train_layers).train()
    opt = torch.optim.AdamW(top.parameters(), lr=args.lr, weight_decay=0.01)
    labels = torch.tensor([rows[r][3] for r in range(len(rows))], dtype=torch.float32)
    steps = args.epochs * ((len(train_idx) + args.batch - 1) // args.batch)
    warm_then_decay = lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, 1 - s / steps)  # noqa: E731
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warm_then_decay)
    lengths = np.array([states[r][0].shape[0] for r in train_idx])
    for epoch in range(args.epochs):
        # batches of similar length (less padding), in random order
        by_length = train_idx[np.argsort(lengths + rng.uniform(0, 8, len(lengths)))]
        batches = [by_length[s:s + args.batch] for s in range(0, len(by_length), args.batch)]
        total = 0.0
        for b in rng.permutation(len(batches)):
            idx = batches[b]
            hidden, mask = padded(states, idx)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(top(hidden, mask), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        print(f"  epoch {epoch + 1}: loss {total / len(train_idx):.4f}", flush=True)
    return top.eval()


def scored(top: Top, states, idx) -> np.ndarray:
    idx = np.asarray(idx)
    by_length = np.argsort([states[r][0].shape[0] for r in idx])
    out = np.zeros(len(idx))
    with torch.inference_mode():
        for start in range(0, len(idx), 64):
            chunk = by_length[start:start + 64]
            hidden, mask = padded(states, idx[chunk])
            out[chunk] = top(hidden, mask).numpy()
    return out


def per_part_scores(examples, rows, logits: np.ndarray) -> list[list[np.ndarray]]:
    scores: list[list[list[float]]] = [[[] for _ in e.parts] for e in examples]
    for (ei, pi, _, _), s in zip(rows, logits, strict=True):
        scores[ei][pi].append(float(s))
    return [[np.array(s) for s in parts] for parts in scores]


def auc(score: np.ndarray, label: np.ndarray) -> float:
    pos, neg = score[label], score[~label]
    if not len(pos) or not len(neg):
        return float("nan")
    ranks = np.argsort(np.argsort(np.concatenate([pos, neg]))) + 1.0
    for value in np.unique(np.concatenate([pos, neg])):  # ties: average rank
        tied = np.concatenate([pos, neg]) == value
        ranks[tied] = ranks[tied].mean()
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def question_probs(examples, parts, probs) -> np.ndarray:
    """Per question: the highest answer probability of its parts (0 without a pool)."""
    best = np.zeros(len(examples))
    for (i, _, _), p in zip(parts, probs, strict=True):
        best[i] = max(best[i], p)
    return best


def fa_threshold(examples, parts, probs, groups_mask) -> float:
    """The highest threshold keeping false abstention <= FA_LIMIT on the examples in groups_mask."""
    keep = [k for k, (i, _, _) in enumerate(parts) if groups_mask[i]]
    sub_parts = [parts[k] for k in keep]
    index = {i: n for n, i in enumerate(sorted({i for i, _, _ in sub_parts}))}
    subset = [examples[i] for i in sorted(index)]
    remapped = [(index[i], a, g) for i, a, g in sub_parts]
    chosen = 0.0
    for threshold in np.arange(0.01, 0.99, 0.01):
        found = fit.summary(fit.outcomes(subset, remapped, probs[keep], float(threshold)))
        if found["false_abstention"] <= FA_LIMIT:
            chosen = float(threshold)
    return chosen


def grouped_figures(examples, parts, probs, per_group_threshold) -> dict[str, dict]:
    groups = np.array([e.group for e in examples])
    qprob = question_probs(examples, parts, probs)
    result = {}
    for g in sorted(set(groups)):
        threshold = per_group_threshold(g, groups)
        rows = fit.outcomes(examples, parts, probs, threshold)
        sel = groups == g
        found = fit.summary([r for r, s in zip(rows, sel, strict=True) if s])
        correct_if_answered = np.array([r["correct"] for r in fit.outcomes(examples, parts, probs, 0.0)])
        found["auc"] = round(auc(qprob[sel], correct_if_answered[sel]), 3)
        found["threshold"] = round(threshold, 3)
        result[g] = found
    return result


def first_place(rows, held, logits) -> float:
    """Share of the held-out parts with a positive candidate whose best-scored candidate is positive."""
    parts: dict[tuple[int, int], list[tuple[float, int]]] = {}
    for r in held:
        parts.setdefault(rows[r][:2], []).append((logits[r], rows[r][3]))
    found = [max(c)[1] for c in parts.values() if any(y for _, y in c)]
    return float(np.mean(found)) if found else float("nan")


def reader_oof(examples, rows, states, model, args) -> np.ndarray:
    groups = np.array([examples[ei].group for ei, _, _, _ in rows])
    logits = np.zeros(len(rows))
    for g in args.folds or sorted(set(groups)):
        start = time.time()
        train_examples = {i for i, e in enumerate(examples) if e.group != g}
        idx = training_rows(rows, train_examples, np.random.default_rng(SEED))
        print(f"fold {g}: {len(idx)} training pairs ({sum(rows[r][3] for r in idx)} positive)", flush=True)
        top = train_top(model, states, rows, np.array(idx), args)
        held = np.flatnonzero(groups == g)
        logits[held] = scored(top, states, held)
        print(f"  {time.time() - start:.0f} s; held out: first place {first_place(rows, held, logits):.3f}", flush=True)
    return logits


def reader_parts(examples, rows, logits, gap: float):
    scores = per_part_scores(examples, rows, logits)
    parts = fit.part_results(examples, scores, gap)
    probs = np.array([1 / (1 + np.exp(-s.max())) for e, ss in zip(examples, scores, strict=True)
                      for s in ss if len(s)])
    return parts, probs, scores


def lr_parts(examples, size: int = 12, gap: float = 3.0):
    scores = fit.sentence_oof(examples, size)
    x, y, owner = fit.answer_rows(examples, scores, size, gap)
    probs = fit.answer_oof(examples, x, y, owner)
    return fit.part_results(examples, scores, gap), probs


def with_reader_feature(examples, rows, logits):
    """Examples whose feature matrices carry the reader's out-of-fold logit as one more column (kept
    through rag.fit's truncation, as bench/scorer_experiments.py does for spaCy's)."""
    import copy

    from scorer_experiments import keep_extra_columns

    keep_extra_columns()
    out = copy.deepcopy(examples)
    extra = [[np.full(len(p.matrix), -10.0) for p in e.parts] for e in out]
    for (ei, pi, ci, _), s in zip(rows, logits, strict=True):
        extra[ei][pi][ci] = s
    for e, cols in zip(out, extra, strict=True):
        for p, col in zip(e.parts, cols, strict=True):
            p.matrix = np.concatenate([p.matrix, col[:, None].astype(np.float32)], axis=1)
    return out


def rules_figures(examples, run_dirs: list[Path]) -> dict[str, dict]:
    """Per group, the rules' figures from `rag eval` run folders (results.jsonl), by question id."""
    results = {}
    for d in run_dirs:
        for line in (d / "results.jsonl").read_text().splitlines():
            r = json.loads(line)
            results[r["id"]] = r
    out = {}
    for g in sorted({e.group for e in examples}):
        found = [results[e.id] for e in examples if e.group == g and e.id in results]
        if not found:
            continue
        rows = [{"answerable": r["answerable"], "answered": not r["abstained"],
                 "correct": r["answerable"] and r["passed"], "gold_quotes": None} for r in found]
        out[g] = fit.summary(rows)
    return out


def rules_auc(examples) -> dict[str, float]:
    """AUC of the rules' best sentence score (rag.features 'rule', less the unseen-word penalty)
    for "its top sentence holds every key": the rules' confidence, simulated on the same pools."""
    from rag.features import SENTENCE_FEATURES

    col = SENTENCE_FEATURES.index("rule")
    out = {}
    for g in sorted({e.group for e in examples}):
        score, label = [], []
        for e in (e for e in examples if e.group == g):
            best, ok = -9.0, False
            for p in e.parts:
                if not len(p.matrix):
                    continue
                top = int(np.argmax(p.matrix[:POOL, col]))
                s = float(p.matrix[top, col]) - (0.15 * p.question[0] if e.group != "seed" else 0.0)
                if s > best:
                    best = s
                    ok = part_label(e.answerable, len(e.parts), float(p.key_share[top]), bool(p.gold[top])) == 1
            score.append(best)
            label.append(ok)
        out[g] = round(auc(np.array(score), np.array(label)), 3)
    return out


def other_groups_threshold(examples, parts, probs):
    def threshold(g, groups):
        return fa_threshold(examples, parts, probs, groups != g)
    return threshold


def table(rules, rules_aucs, lr, lr_own, reader) -> str:
    lines = ["| group | n | accuracy rules / LR / reader | abstention rules / LR / reader | "
             "false abst. rules / LR / reader | AUC rules* / LR / reader | LR at 0.65: acc / abst / FA |",
             "|---|---:|---|---|---|---|---|"]
    for g in reader:
        r = rules.get(g, {})
        cells = [f"{r.get(k, float('nan')):.3f} / {lr[g][k]:.3f} / {reader[g][k]:.3f}"
                 for k in ("accuracy", "abstention", "false_abstention")]
        cells.append(f"{rules_aucs[g]:.3f} / {lr[g]['auc']:.3f} / {reader[g]['auc']:.3f}")
        cells.append(" / ".join(f"{lr_own[g][k]:.3f}" for k in ("accuracy", "abstention", "false_abstention")))
        lines.append(f"| {g} | {reader[g]['questions']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules-runs", type=Path, nargs="*", default=[])
    parser.add_argument("--train-layers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--gap", type=float, default=0.0, help="quote candidates within this many logits of the best")
    parser.add_argument("--combine", action="store_true", help="also the LR with the reader's logit as a feature")
    parser.add_argument("--folds", nargs="*", default=[], help="probe: only these held-out groups")
    parser.add_argument("--pool-sentence", action="store_true", help="head on the sentence's tokens only")
    args = parser.parse_args()
    torch.set_num_threads(2)
    examples = pickle.loads((OUT / "scorer-examples.pkl").read_bytes())
    rows = pair_index(examples)
    print(f"{len(examples)} questions, {len(rows)} pairs, {sum(r[3] for r in rows)} positive")
    tokenizer, model = load_base()
    states = lower_states(examples, rows, tokenizer, model, args.train_layers)
    if args.pool_sentence:
        SEGMENTS.extend(segments(examples, rows, tokenizer))
    if args.folds:
        reader_oof(examples, rows, states, model, args)
        return
    oof = OUT / f"reader-oof-{args.train_layers}-{args.epochs}-{args.lr}.npy"
    logits = np.load(oof) if oof.exists() else reader_oof(examples, rows, states, model, args)
    np.save(oof, logits)
    parts, probs, _ = reader_parts(examples, rows, logits, args.gap)
    reader = grouped_figures(examples, parts, probs, other_groups_threshold(examples, parts, probs))
    lr_p, lr_probs = lr_parts(examples)
    lr = grouped_figures(examples, lr_p, lr_probs, other_groups_threshold(examples, lr_p, lr_probs))
    lr_own = grouped_figures(examples, lr_p, lr_probs, lambda g, groups: 0.65)
    rules = rules_figures(examples, args.rules_runs)
    print(table(rules, rules_auc(examples), lr, lr_own, reader))
    everything = np.ones(len(examples), bool)
    print("reader threshold on all out-of-fold:", fa_threshold(examples, parts, probs, everything))
    if args.combine:
        both = with_reader_feature(examples, rows, logits)
        lr_p, lr_probs = lr_parts(both)
        combined = grouped_figures(both, lr_p, lr_probs, other_groups_threshold(both, lr_p, lr_probs))
        print("LR + reader logit:")
        print(table(rules, rules_auc(examples), lr, lr_own, combined))
    (OUT / "reader-cv.json").write_text(json.dumps({"reader": reader, "lr": lr, "lr_own": lr_own, "rules": rules}))


if __name__ == "__main__":
    main()
