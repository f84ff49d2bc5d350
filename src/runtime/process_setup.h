// Process-wide runtime settings that must be in place before the OpenMP runtime starts.
#pragma once

namespace itscam {

// OpenMP workers that spin at barriers turn CPU contention (video decoders, other processes) into 10-40x
// slowdowns: a spinning thread burns the time slice that its descheduled partner needs to reach the barrier
// (measured: bf16 yolo11n on 2 busy cores, 1196 ms per image spinning vs 50 ms passive). libgomp reads its wait
// policy only when it loads, so unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT, this re-executes the
// program once with OMP_WAIT_POLICY=PASSIVE. Call it first thing in main(); it returns normally when nothing is
// to be done or the re-exec fails.
void prefer_passive_openmp_waits(char** argv);

}  // namespace itscam
