#!/usr/bin/python3
"""The PyTorch side of bench/compare: convkit's benchmark models (layers/spec.cpp
presets) in PyTorch, trained (forward + backward + Adam step) or run for
inference on random data, channels-last, on N threads. Prints the same fields
as `convkit bench model`: images/s (median of timed repeats), MFLOP/img,
GFLOP/s, peak RSS; --json prints them as one JSON line.

Run it as bench/compare does, for PyTorch at its best:
  OPENBLAS_NUM_THREADS=1 MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 \
    bench/torch_models.py --model fmnist-cnn --batch 64 --threads 2

Usage: bench/torch_models.py --model NAME [--batch N] [--threads N]
       [--mode train|infer] [--seconds S] [--warmup N] [--classes K] [--json]
"""
import argparse
import json
import os
import resource
import statistics
import time

import torch
import torch.nn as nn


def conv(c, f, k, same=False):
    return [nn.Conv2d(c, f, k, padding=k // 2 if same else 0), nn.ReLU()]


def pool():
    return [nn.MaxPool2d(2)]


def vgg16_base():
    layers, c = [], 3
    for f, n in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]:
        for _ in range(n):
            layers += conv(c, f, 3, same=True)
            c = f
        layers += pool()
    return layers


# name -> (input (H, W, C), layers before the last dense, its input features, classes)
def build(name, classes):
    if name == "raw-pixels":
        body, feat, k, shape = conv(3, 32, 3) + pool(), 15 * 15 * 32, 10, (32, 32, 3)
    elif name == "lenet5":
        body = (conv(1, 6, 5, same=True) + pool() + conv(6, 16, 5) + pool() +
                [nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU()])
        feat, k, shape = 84, 10, (28, 28, 1)
    elif name == "fmnist-cnn":
        body = (conv(1, 32, 5, same=True) + pool() + conv(32, 64, 5, same=True) + pool() +
                [nn.Flatten(), nn.Linear(3136, 1024), nn.ReLU(), nn.Dropout(0.4)])
        feat, k, shape = 1024, 10, (28, 28, 1)
    elif name == "learning-rate-10":
        body = (conv(3, 32, 3) + pool() + conv(32, 64, 3) + pool() + conv(64, 128, 3) +
                [nn.Flatten(), nn.Linear(52 * 52 * 128, 128), nn.ReLU()])
        feat, k, shape = 128, 5, (224, 224, 3)
    elif name == "vgg16":
        body = vgg16_base() + [nn.Flatten(), nn.Linear(7 * 7 * 512, 4096), nn.ReLU(),
                               nn.Linear(4096, 4096), nn.ReLU()]
        feat, k, shape = 4096, 1000, (224, 224, 3)
    else:
        raise SystemExit(f"unknown model {name}")
    if name == "raw-pixels":
        body += [nn.Flatten()]
    k = classes or k
    return nn.Sequential(*body, nn.Linear(feat, k)), shape, k


def forward_flops(model, shape):
    """Multiply-adds x 2 of one image's forward pass (conv and linear layers)."""
    total, hooks = 0, []

    def count(m, inp, out):
        nonlocal total
        if isinstance(m, nn.Conv2d):
            total += 2 * out[0].numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            total += 2 * m.in_features * m.out_features

    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            hooks.append(m.register_forward_hook(count))
    with torch.no_grad():
        model.eval()
        model(torch.zeros(1, shape[2], shape[0], shape[1]).to(memory_format=torch.channels_last))
    for h in hooks:
        h.remove()
    return total


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--mode", choices=["train", "infer"], default="train")
    p.add_argument("--classes", type=int, default=0)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    model, (h, w, c), k = build(args.model, args.classes)
    flops = forward_flops(model, (h, w, c))
    model = model.to(memory_format=torch.channels_last)
    x = torch.rand(args.batch, c, h, w).to(memory_format=torch.channels_last)
    y = torch.randint(0, k, (args.batch,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    train = args.mode == "train"
    model.train(train)

    def step():
        if train:
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            opt.step()
        else:
            with torch.inference_mode():
                torch.softmax(model(x), dim=1)

    start = time.perf_counter()
    for _ in range(max(args.warmup, 1)):
        step()
    once = max((time.perf_counter() - start) / max(args.warmup, 1), 1e-6)
    steps = max(1, int(0.2 / once))
    per_step, begin = [], time.perf_counter()
    while len(per_step) < 3 or time.perf_counter() - begin < args.seconds:
        t = time.perf_counter()
        for _ in range(steps):
            step()
        per_step.append((time.perf_counter() - t) / steps)
    img_s = args.batch / statistics.median(per_step)
    flop_img = (3 if train else 1) * flops
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    out = {"tool": "pytorch " + torch.__version__, "model": args.model, "mode": args.mode,
           "batch": args.batch, "threads": torch.get_num_threads(), "img_s": img_s,
           "mflop_img": flop_img * 1e-6, "gflops": flop_img * img_s * 1e-9,
           "peak_rss_mb": rss, "repeats": len(per_step)}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{args.model} ({h}x{w}x{c}), {'training' if train else 'inference'} batch "
              f"{args.batch}, {out['threads']} threads, pytorch {torch.__version__}, channels-last")
        print(f"{img_s:.1f} img/s  (median of {len(per_step)} repeats)")
        print(f"{flop_img * 1e-6:.2f} MFLOP/img, {out['gflops']:.1f} GFLOP/s")
        print(f"peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
