// Process-wide runtime settings that must be in place before the OpenMP runtime starts.
#pragma once

namespace itscam {

// OpenMP workers that spin at barriers turn CPU contention (video decoders, other processes) into 4-40x
// slowdowns: a spinning thread burns the time slice that its descheduled partner needs to reach the barrier.
// Fully passive waits fix that but cost ~40% when the cores are free (a futex wake per parallel region).
// A short spin is the best of both (bf16 yolo11n, 2 threads, measured side by side):
//   quiet machine:      libgomp default 24.3 ms, GOMP_SPINCOUNT=3000 24.5 ms, passive 34.9 ms
//   both cores loaded:  libgomp default 324 ms,  GOMP_SPINCOUNT=3000 92 ms,   passive 86 ms
// libgomp reads these settings only when it loads, so unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT,
// this re-executes the program once with GOMP_SPINCOUNT=3000. Call it first thing in main(); it returns
// normally when nothing is to be done or the re-exec fails.
void prefer_short_openmp_spins(char** argv);

}  // namespace itscam
