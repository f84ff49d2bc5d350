// The CPU backend's op families. Each file registers its rules (one per op and layout it handles) into the backend's
// registry; registry() calls every register_* function from one list (ops/registry.cpp), so adding an op is a rule
// in its family's file, or a new file plus one line there. Explicit calls, not static registrars: a registrar object
// in a static library is dropped by the linker when nothing references its file.
//
// Thread-safety: registry() builds the registry once (function-local static) and only reads it afterwards.
#pragma once

#include <vector>

#include "backend/cpu/lowering_context.h"

namespace itscam::cpu {

// Family names (Rule::family).
inline constexpr const char* kConvFamily = "conv";                   // ops/conv.cpp
inline constexpr const char* kPoolingFamily = "pooling";             // ops/pooling.cpp: pooling, nearest Resize
inline constexpr const char* kDataMovementFamily = "data_movement";  // ops/data_movement.cpp
inline constexpr const char* kViewFamily = "view";                // ops/data_movement.cpp: Reshape & co, bound per run
inline constexpr const char* kElementwiseFamily = "elementwise";  // ops/elementwise.cpp
inline constexpr const char* kAttentionFamily = "attention";      // ops/attention.cpp: MatMul, Softmax
inline constexpr const char* kHeadFamily = "head";                // ops/head.cpp: DflDecode

void register_conv(Registry& r);
void register_pooling(Registry& r);
void register_data_movement(Registry& r);
void register_elementwise(Registry& r);
void register_attention(Registry& r);
void register_head(Registry& r);

// Every CPU rule, in registration order.
const Registry& registry();

// int8 and calibration planning of the convolutions (after plan_layouts, before allocate): the convolution inputs
// whose ranges a calibration run records, which convolutions run on uint8 input and their input's quantization, and
// which values exist only as uint8. `rules[i]` is node i's rule.
void plan_conv_int8(LoweringContext& ctx, const std::vector<const Rule*>& rules);

// The fallback for a node no rule takes: the op's reference kernel on plain buffers, its outputs bound per run
// (unsupported when the op has no reference kernel either).
Status lower_reference(LoweringContext& ctx, const Node& n);

}  // namespace itscam::cpu
