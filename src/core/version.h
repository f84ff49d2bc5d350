// The itscam version: project(VERSION) of the top CMakeLists.txt, compiled into version.cpp alone (so a new version
// recompiles one file). The source commit, which changes more often, is the CLI's (tools/itscam/build_info.h), so
// that a new commit relinks one binary.
#pragma once

namespace itscam {

const char* version();  // "0.1.0"

}  // namespace itscam
