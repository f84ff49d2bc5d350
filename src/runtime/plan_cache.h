// Plan cache: what a build of an ONNX model learned (its per-layer autotuned choices, CompiledGraph::tuning()),
// kept as a plan file (runtime/plan.h) that the next build of the same model with the same settings reads instead
// of importing and autotuning again. `itscam run` keeps one in `plan_cache_dir` (configs/example.yaml).
//
// One file per build: <dir>/<model stem>-<16 hex digits>.plan, the digits a hash of everything the build depends
// on: the model's bytes (SHA-256), the itscam version, the device and its backend's target_key(), the precision,
// batch size, input size, thread count, autotuning and the graph passes. A build that differs in any of them uses
// another file, so it never reads a wrong plan; the plan's own target, batch and precision are checked again when
// it loads (Engine::from_plan). A file that does not load (corrupt, truncated, or a tuning that no longer applies)
// is logged and rebuilt over, never fatal; a cache that cannot be written is logged and the engine serves anyway.
// Not used for int8 (calibration images are not part of the key), for plain execution (EngineOptions::optimize
// false: no tuning to keep), nor for a model that is a plan already.
//
// Thread-safety: files are written atomically (plan_write: a temporary file, then a rename), so threads and
// processes may share a folder; the last writer of a file wins, with an equally valid plan.
#pragma once

#include <memory>
#include <string>

#include "runtime/engine.h"

namespace itscam {

// True when Engine::load(model_path, opt) goes through the cache: opt.plan_cache_dir set, optimized, not int8, not
// a plan.
bool plan_cache_applies(const std::string& model_path, const EngineOptions& opt);

// The cache file of a build of model_path with opt (the folder need not exist). Errors: the model cannot be read,
// or opt.device names no backend of this build.
Result<std::string> plan_cache_file(const std::string& model_path, const EngineOptions& opt);

// Engine::load through the cache: the cached plan when it loads, else a build from the ONNX model whose plan is
// then written to the cache. Errors are the build's (a cache problem only logs, through opt.log).
Result<std::unique_ptr<Engine>> plan_cache_load(const std::string& model_path, const EngineOptions& opt);

}  // namespace itscam
