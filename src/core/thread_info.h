// Thread names and per-thread CPU time, so that where a process's CPU goes can be told by role.
//
// set_thread_name() names the calling thread (Linux keeps 15 bytes; longer names are cut). Names start with a role
// prefix ("cap:" capture, "infer" inference workers, ...), and thread_cpu_by_role() sums the CPU time of every thread
// of this process by the part of its name before the first ':' or digit, from /proc/self/task/*/stat. Threads that
// FFmpeg or a driver starts take their own names (or the process's), and are reported under them.
#pragma once

#include <map>
#include <string>

namespace itscam {

void set_thread_name(const std::string& name);

// CPU seconds (user + system) of this process's live threads, summed by role (see above). Threads that ended are
// not counted: compare two calls' totals only over a span in which the threads of interest live throughout.
std::map<std::string, double> thread_cpu_by_role();

// CPU seconds (user + system) this process has used, its ended threads included.
double process_cpu_seconds();

}  // namespace itscam
