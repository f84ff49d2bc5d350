#!/usr/bin/env bash
# CLI tests: usage: cli_test.sh CASE ITSCAM_BIN SHARED_DIR WORK_DIR
# Each case exits 0 on success and prints why it failed otherwise.
set -u
case_name=$1 bin=$2 shared=$3 work=$4/$1
rm -rf "$work" && mkdir -p "$work"
model=$shared/models/yolo11n.onnx

# expect_fail "substring" cmd...: the command must exit non-zero and print the substring on stderr/stdout.
expect_fail() {
    local want=$1; shift
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [ $rc -eq 0 ]; then echo "FAIL: '$*' exited 0, expected failure"; echo "$out"; exit 1; fi
    if [ $rc -ge 128 ]; then echo "FAIL: '$*' crashed (exit $rc)"; echo "$out"; exit 1; fi
    if ! grep -qiF -- "$want" <<<"$out"; then echo "FAIL: '$*' message lacks '$want':"; echo "$out"; exit 1; fi
    echo "ok: $* -> exit $rc: $(head -c 300 <<<"$out" | tr '\n' ' ')"
}

case $case_name in
help)
    for c in "" detect inspect val "bench model"; do
        # shellcheck disable=SC2086
        out=$("$bin" $c --help 2>&1) || { echo "FAIL: itscam $c --help exited non-zero"; exit 1; }
        grep -q "Usage" <<<"$out" || { echo "FAIL: itscam $c --help printed no usage"; exit 1; }
    done
    echo "ok: --help on every command";;
detect_json)
    "$bin" detect --model "$model" --save-dir "$work/annotated" --json "$work/bus.json" "$shared/data/images/bus.jpg" || exit 1
    [ -s "$work/annotated/bus.jpg" ] || { echo "FAIL: no annotated image written"; exit 1; }
    for field in '"image": "bus.jpg"' '"image_size"' '"class_id"' '"name": "bus"' '"score"' '"box"'; do
        grep -qF "$field" "$work/bus.json" || { echo "FAIL: JSON lacks $field"; cat "$work/bus.json"; exit 1; }
    done
    # several images give a list, one object per image
    "$bin" detect -q --model "$model" --classes 0 --json "$work/two.json" "$shared/data/images/bus.jpg" \
        "$shared/data/images/zidane.jpg" || exit 1
    head -c 1 "$work/two.json" | grep -q '\[' || { echo "FAIL: two images did not give a JSON list"; exit 1; }
    ! grep -q '"name": "bus"' "$work/two.json" || { echo "FAIL: --classes 0 kept a bus"; exit 1; }
    echo "ok: detect JSON and annotated image";;
bad_model)
    head -c 100000 "$model" > "$work/truncated.onnx"
    expect_fail "not a valid ONNX model" "$bin" detect --model "$work/truncated.onnx" "$shared/data/images/bus.jpg"
    head -c 4096 /dev/urandom > "$work/random.onnx"
    expect_fail "model" "$bin" detect --model "$work/random.onnx" "$shared/data/images/bus.jpg"
    : > "$work/empty.onnx"
    expect_fail "empty" "$bin" detect --model "$work/empty.onnx" "$shared/data/images/bus.jpg"
    expect_fail "cannot open model file" "$bin" detect --model "$work/missing.onnx" "$shared/data/images/bus.jpg"
    expect_fail "not a valid ONNX model" "$bin" inspect "$work/truncated.onnx";;
bad_images)
    echo "not an image" > "$work/fake.jpg"
    expect_fail "cannot read image" "$bin" detect --model "$model" "$work/fake.jpg"
    mkdir -p "$work/empty_dir"
    expect_fail "contains no images" "$bin" detect --model "$model" "$work/empty_dir"
    expect_fail "no such file" "$bin" detect --model "$model" "$work/nope.jpg"
    expect_fail "--classes" "$bin" detect --model "$model" --classes 2,x "$shared/data/images/bus.jpg"
    expect_fail "unknown device" "$bin" detect --model "$model" --device tpu "$shared/data/images/bus.jpg"
    expect_fail "imgsz" "$bin" detect --model "$model" --imgsz 320 "$shared/data/images/bus.jpg"
    expect_fail "precision" "$bin" bench model --model "$model" --precision fp64 --iters 1
    expect_fail "calibration" "$bin" bench model --model "$model" --precision int8 --iters 1
    expect_fail "--calib" "$bin" bench model --model "$model" --precision int8 --calib "$work/empty_dir" --iters 1;;
val_coco128)
    "$bin" val --model "$model" --data "$shared/data/coco128" --json "$work/val.json" || exit 1
    ours=$(grep -o '"map50_95": [0-9.e-]*' "$work/val.json" | awk '{print $2}')
    ref=$(grep -o '"map50_95": [0-9.e-]*' "$shared/golden/coco128_640.json" | awk '{print $2}')
    awk -v a="$ours" -v b="$ref" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.005) }' \
        || { echo "FAIL: mAP50-95 $ours vs reference $ref (tolerance 0.005)"; exit 1; }
    echo "ok: coco128 mAP50-95 $ours vs reference $ref";;
val_reduced_precision)
    # The opt-in precisions may cost at most 1 point of mAP50-95 (0.01) against the fp32 reference.
    ref=$(grep -o '"map50_95": [0-9.e-]*' "$shared/golden/coco128_640.json" | awk '{print $2}')
    for p in bf16 int8; do
        "$bin" val --model "$model" --data "$shared/data/coco128" --precision "$p" --calib "$shared/data/images" \
            --json "$work/val_$p.json" || exit 1
        ours=$(grep -o '"map50_95": [0-9.e-]*' "$work/val_$p.json" | awk '{print $2}')
        awk -v a="$ours" -v b="$ref" 'BEGIN { exit !(a >= b - 0.01) }' \
            || { echo "FAIL: $p mAP50-95 $ours vs fp32 reference $ref (budget 0.01)"; exit 1; }
        echo "ok: $p coco128 mAP50-95 $ours vs fp32 reference $ref"
    done;;
bench)
    "$bin" bench model --model "$model" --batch 1,2 --iters 2 --warmup 1 --json "$work/bench.json" || exit 1
    grep -q '"p50_ms"' "$work/bench.json" || { echo "FAIL: bench JSON lacks p50_ms"; exit 1; }
    echo "ok: bench";;
*) echo "unknown case $case_name"; exit 2;;
esac
