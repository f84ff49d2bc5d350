// Helpers shared by the CUDA tests that link the device layer.
#pragma once

#include <gtest/gtest.h>

#include "device/cuda/cuda_device.h"

namespace itscam::test {

// Whether GPU 0 can be used: the device layer's answer (no device, no driver: false).
inline bool have_gpu() {
    return device::cuda_device(0).available().is_ok();
}

}  // namespace itscam::test

#define SKIP_WITHOUT_GPU() \
    if (!::itscam::test::have_gpu()) GTEST_SKIP() << "no CUDA device"
