#!/usr/bin/python3
"""The yardstick for `convkit train --model fmnist-cnn`: the same network in
PyTorch, trained on the same Fashion-MNIST files with Adam (lr 1e-3,
epsilon 1e-7 as Keras), batch 64, channels-last, on N threads. Prints the
training throughput and the test accuracy after each epoch.

Usage: bench/torch_fmnist.py [--epochs 1] [--batch 64] [--threads N] [--limit N]
"""
import argparse
import gzip
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = struct.unpack(">" + "I" * rank, data[4 : 4 + 4 * rank])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def fmnist_cnn():
    # conv 32@5x5 same relu, maxpool 2, conv 64@5x5 same relu, maxpool 2,
    # flatten, dense 1024 relu, dropout 0.4, dense 10 (softmax in the loss)
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 1024), nn.ReLU(), nn.Dropout(0.4),
        nn.Linear(1024, 10))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--limit", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    x = read_idx(f"{DATA}/train-images-idx3-ubyte.gz").astype(np.float32)[:, None] / 255.0
    y = read_idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64)
    tx = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz").astype(np.float32)[:, None] / 255.0
    ty = read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    if args.limit:
        x, y = x[: args.limit], y[: args.limit]
    x = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
    y = torch.from_numpy(y)
    tx = torch.from_numpy(tx).contiguous(memory_format=torch.channels_last)
    ty = torch.from_numpy(ty)
    model = fmnist_cnn().to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x))
        start = time.perf_counter()
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(x), args.batch):
            idx = perm[i : i + args.batch]
            xb = x[idx].contiguous(memory_format=torch.channels_last)
            out = model(xb)
            loss = loss_fn(out, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += len(idx)
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == y[idx]).sum().item()
        seconds = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            pred = torch.cat([model(tx[i : i + 1000]).argmax(1) for i in range(0, len(tx), 1000)])
        test_acc = (pred == ty).float().mean().item()
        print(f"pytorch epoch {epoch + 1}: {total / seconds:.0f} img/s training, "
              f"loss {loss_sum / total:.4f}, accuracy {correct / total:.4f}, "
              f"test_accuracy {test_acc:.4f}")


if __name__ == "__main__":
    main()
