#!/usr/bin/python3
"""Viewing aids for hand-labelling line crossings in a video (ground truth for tests/data/analytics).

It only renders pixels from the video so that a person can look at them; it detects nothing. Frames are numbered
from 0 in decode order (ffmpeg, every frame, no drop/dup). Images go wherever --out says; keep them out of the repo
(the clips are third-party media).

  frames VIDEO --frames 0,300 [--line x1,y1,x2,y2 ...] [--grid 50] --out DIR
      full frames with the lines and a pixel grid drawn on them (to pick line end points and marking points).
  slit VIDEO --line x1,y1,x2,y2 [--chunk 150] [--rows 3] [--xscale 3] --out PREFIX
      time-space image: one band per frame holding the pixels sampled along the line (and, to show motion, the
      pixels 6 px to each side of it in the top/bottom rows of the band), frames top to bottom, frame numbers on
      the left.
  sheet VIDEO --crop x,y,w,h --start N --end M [--step 3] [--cols 4 --rows 4] [--scale 2] [--line ...] [--grid 10]
        --out PREFIX
      contact sheets of a crop every --step frames, frame number burned in, lines (and a source-pixel grid) drawn.

Needs python3-numpy and python3-pil (Debian) and ffmpeg.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image, ImageDraw


def probe(video):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                          "-of", "json", video], check=True, capture_output=True, text=True).stdout
    s = json.loads(out)["streams"][0]
    return s["width"], s["height"]


def read_frames(video):
    """Yields (index, HxWx3 uint8 array) for every decoded frame."""
    w, h = probe(video)
    p = subprocess.Popen(["ffmpeg", "-v", "error", "-i", video, "-map", "0:v:0", "-vsync", "passthrough",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE)
    size = w * h * 3
    n = 0
    while True:
        buf = p.stdout.read(size)
        if len(buf) < size:
            break
        yield n, np.frombuffer(buf, np.uint8).reshape(h, w, 3)
        n += 1
    p.wait()


def parse_line(s):
    v = [float(t) for t in s.split(",")]
    if len(v) != 4:
        sys.exit(f"bad --line {s!r}: want x1,y1,x2,y2")
    return v


def draw_lines(img, lines, dx=0, dy=0, scale=1.0):
    d = ImageDraw.Draw(img)
    for i, (x1, y1, x2, y2) in enumerate(lines):
        d.line([((x1 - dx) * scale, (y1 - dy) * scale), ((x2 - dx) * scale, (y2 - dy) * scale)],
               fill=(255, 0, 255), width=1)
        d.text(((x1 - dx) * scale + 2, (y1 - dy) * scale + 2), f"L{i}a", fill=(255, 0, 255))


def draw_grid(img, dx, dy, scale, step):
    """Source-pixel grid over a crop that starts at (dx, dy) and was scaled by scale."""
    d = ImageDraw.Draw(img)
    for x in range((dx // step + 1) * step, dx + int(img.width / scale), step):
        d.line([((x - dx) * scale, 0), ((x - dx) * scale, img.height)], fill=(0, 160, 160))
        d.text(((x - dx) * scale + 1, img.height - 12), str(x), fill=(255, 255, 0))
    for y in range((dy // step + 1) * step, dy + int(img.height / scale), step):
        d.line([(0, (y - dy) * scale), (img.width, (y - dy) * scale)], fill=(0, 160, 160))
        d.text((1, (y - dy) * scale + 1), str(y), fill=(255, 255, 0))


def label(img, text, xy=(2, 2), scale=2):
    """Text burned in at a readable size (PIL's default bitmap font, upscaled)."""
    tmp = Image.new("RGB", (8 * len(text) + 4, 14), (0, 0, 0))
    ImageDraw.Draw(tmp).text((2, 1), text, fill=(255, 255, 0))
    tmp = tmp.resize((tmp.width * scale, tmp.height * scale), Image.NEAREST)
    img.paste(tmp, xy)


def cmd_frames(a):
    want = set(int(t) for t in a.frames.split(","))
    lines = [parse_line(s) for s in a.line or []]
    os.makedirs(a.out, exist_ok=True)
    for n, f in read_frames(a.video):
        if n in want:
            img = Image.fromarray(f.copy())
            d = ImageDraw.Draw(img)
            if a.grid:
                for x in range(0, img.width, a.grid):
                    d.line([(x, 0), (x, img.height)], fill=(0, 255, 255) if x % (a.grid * 2) == 0 else (0, 128, 128))
                    d.text((x + 1, 1), str(x), fill=(255, 255, 0))
                for y in range(0, img.height, a.grid):
                    d.line([(0, y), (img.width, y)], fill=(0, 255, 255) if y % (a.grid * 2) == 0 else (0, 128, 128))
                    d.text((1, y + 1), str(y), fill=(255, 255, 0))
            draw_lines(img, lines)
            label(img, f"#{n}", (img.width - 90, img.height - 30))
            img.save(os.path.join(a.out, f"f{n:04d}.png"))
            want.discard(n)
        if not want:
            break


def cmd_slit(a):
    x1, y1, x2, y2 = parse_line(a.line)
    length = int(round(np.hypot(x2 - x1, y2 - y1)))
    t = np.linspace(0, 1, length)
    # unit normal pointing to the right of a->b (image coords, y down): the "forward" side
    nx, ny = -(y2 - y1) / length, (x2 - x1) / length
    offs = [-a.offset, 0, a.offset]
    rows_per = a.rows
    bands = []
    w, h = probe(a.video)
    for n, f in read_frames(a.video):
        band = []
        for o in offs:
            xs = np.clip(np.round(x1 + t * (x2 - x1) + o * nx).astype(int), 0, w - 1)
            ys = np.clip(np.round(y1 + t * (y2 - y1) + o * ny).astype(int), 0, h - 1)
            band.append(f[ys, xs])
        # top row: the backward side (left of a->b), middle: the line, bottom: the forward side
        rows = [band[0]] + [band[1]] * max(1, rows_per - 2) + [band[2]]
        bands.append(np.repeat(np.stack(rows), a.xscale, axis=1))
    total = len(bands)
    margin = 60
    for start in range(0, total, a.chunk):
        part = bands[start:start + a.chunk]
        arr = np.concatenate(part)
        img = Image.new("RGB", (arr.shape[1] + margin, arr.shape[0]), (0, 0, 0))
        img.paste(Image.fromarray(arr), (margin, 0))
        band_h = part[0].shape[0]
        d = ImageDraw.Draw(img)
        for i in range(len(part)):
            n = start + i
            if n % 5 == 0:
                d.line([(margin - 8 if n % 10 else margin - 20, i * band_h), (margin - 1, i * band_h)],
                       fill=(255, 255, 0))
            if n % 10 == 0:
                d.text((2, i * band_h - 4), str(n), fill=(255, 255, 0))
        for x in range(0, arr.shape[1] // a.xscale, 50 if a.xscale == 1 else 20):
            d.text((margin + x * a.xscale, 0), str(x), fill=(0, 255, 255))
        img.save(f"{a.out}_{start:04d}.png")


def cmd_sheet(a):
    cx, cy, cw, ch = [int(v) for v in a.crop.split(",")]
    lines = [parse_line(s) for s in a.line or []]
    per = a.cols * a.rows
    tiles = []
    for n, f in read_frames(a.video):
        if n > a.end:
            break
        if n < a.start or (n - a.start) % a.step:
            continue
        tile = Image.fromarray(f[cy:cy + ch, cx:cx + cw].copy())
        if a.scale != 1:
            tile = tile.resize((int(cw * a.scale), int(ch * a.scale)), Image.BICUBIC)
        if a.grid:
            draw_grid(tile, cx, cy, a.scale, a.grid)
        draw_lines(tile, lines, cx, cy, a.scale)
        label(tile, f"#{n}")
        tiles.append((n, tile))
    for s in range(0, len(tiles), per):
        group = tiles[s:s + per]
        tw, th = group[0][1].size
        sheet = Image.new("RGB", (a.cols * (tw + 2), a.rows * (th + 2)), (40, 40, 40))
        for i, (_, tile) in enumerate(group):
            sheet.paste(tile, ((i % a.cols) * (tw + 2), (i // a.cols) * (th + 2)))
        sheet.save(f"{a.out}_{group[0][0]:04d}.png")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("frames")
    f.add_argument("video")
    f.add_argument("--frames", required=True)
    f.add_argument("--line", action="append")
    f.add_argument("--grid", type=int, default=0)
    f.add_argument("--out", required=True)
    s = sub.add_parser("slit")
    s.add_argument("video")
    s.add_argument("--line", required=True)
    s.add_argument("--chunk", type=int, default=150)
    s.add_argument("--rows", type=int, default=4, help="pixel rows per frame in the image")
    s.add_argument("--offset", type=float, default=6, help="px to each side sampled for the edge rows")
    s.add_argument("--xscale", type=int, default=1, help="widen the image this many times (short lines)")
    s.add_argument("--out", required=True)
    c = sub.add_parser("sheet")
    c.add_argument("video")
    c.add_argument("--crop", required=True)
    c.add_argument("--start", type=int, default=0)
    c.add_argument("--end", type=int, default=10**9)
    c.add_argument("--step", type=int, default=3)
    c.add_argument("--cols", type=int, default=4)
    c.add_argument("--rows", type=int, default=4)
    c.add_argument("--scale", type=float, default=1.0)
    c.add_argument("--line", action="append")
    c.add_argument("--grid", type=int, default=0, help="source-pixel grid step (0: none)")
    c.add_argument("--out", required=True)
    a = p.parse_args()
    {"frames": cmd_frames, "slit": cmd_slit, "sheet": cmd_sheet}[a.cmd](a)


if __name__ == "__main__":
    main()
