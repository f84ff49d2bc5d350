// Device names (parsed in one place for the config, the backends, the registry and the CLI) and the one error
// classification the circuit breaker uses.
#include <gtest/gtest.h>

#include "device/device_error.h"
#include "device/device_name.h"
#include "device/registry.h"

using namespace itscam;
using namespace itscam::device;

TEST(DeviceName, ParsesKindAndOrdinal) {
    auto a = device_name_parse("cuda:12");
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    EXPECT_EQ(a->kind, "cuda");
    EXPECT_EQ(a->ordinal, 12);
    EXPECT_TRUE(a->has_ordinal);
    EXPECT_EQ(a->str(), "cuda:12");
    auto b = device_name_parse("cpu");
    ASSERT_TRUE(b.is_ok());
    EXPECT_EQ(b->kind, "cpu");
    EXPECT_EQ(b->ordinal, 0);
    EXPECT_FALSE(b->has_ordinal);
    EXPECT_EQ(b->str(), "cpu");
    EXPECT_TRUE(device_name_parse("portable").is_ok()) << "syntax only: the backend registry takes other names";
    for (const char* bad : {"", "cuda:", ":1", "cuda:x", "cuda:-1", "cuda:12345", "cuda:1:2"})
        EXPECT_EQ(device_name_parse(bad).status().code(), StatusCode::kInvalidArgument) << bad;
}

TEST(DeviceName, ValidatesKindsAndOrdinals) {
    for (const char* ok : {"cpu", "ref", "cuda", "cuda:0", "cuda:7"})
        EXPECT_TRUE(device_name_validate(ok).is_ok()) << ok;
    const Status unknown = device_name_validate("tpu");
    EXPECT_EQ(unknown.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(unknown.message().find("unknown device 'tpu'"), std::string::npos) << unknown.to_string();
    const Status host_ordinal = device_name_validate("cpu:1");
    EXPECT_EQ(host_ordinal.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(host_ordinal.message().find("only GPU devices take an ordinal"), std::string::npos);
    EXPECT_TRUE(device_kind_has_ordinals("cuda"));
    EXPECT_FALSE(device_kind_has_ordinals("cpu"));
    EXPECT_FALSE(device_kind_has_ordinals("ref"));
}

TEST(DeviceName, ExpandsANumberedKindOverDeviceIds) {
    EXPECT_EQ(device_names_expand("cuda", {0, 2}), (std::vector<std::string>{"cuda:0", "cuda:2"}));
    EXPECT_EQ(device_names_expand("cuda:1", {0, 2}), (std::vector<std::string>{"cuda:1"}));
    EXPECT_EQ(device_names_expand("cpu", {0, 2}), (std::vector<std::string>{"cpu"}));
    EXPECT_EQ(device_names_expand("ref", {3}), (std::vector<std::string>{"ref"}));
}

TEST(DeviceRegistry, HostKindsAreTheHostDevice) {
    auto cpu = device_get("cpu");
    auto ref = device_get("ref");
    ASSERT_TRUE(cpu.is_ok() && ref.is_ok());
    EXPECT_EQ(*cpu, &device_host());
    EXPECT_EQ(*ref, &device_host());
    EXPECT_EQ(device_host().name(), "cpu");
    EXPECT_TRUE(device_host().available().is_ok());
    EXPECT_FALSE(device_host().prefers_fp16());
    EXPECT_EQ(device_host().staging_memory(), MemoryKind::kHost);
    EXPECT_EQ(device_get("tpu").status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(device_get("cpu:1").status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(device_get("cuda:").status().code(), StatusCode::kInvalidArgument);
}

TEST(DeviceRegistry, GpuDeviceByOrdinalOrUnsupportedInThisBuild) {
    auto a = device_get("cuda");
    auto b = device_get("cuda:0");
    auto c = device_get("cuda:1");
    if (!a.is_ok()) {
        // A build without CUDA: said once, clearly, for every ordinal.
        EXPECT_EQ(a.status().code(), StatusCode::kUnsupported) << a.status().to_string();
        EXPECT_NE(a.status().message().find("ITSCAM_WITH_CUDA"), std::string::npos);
        EXPECT_EQ(c.status().code(), StatusCode::kUnsupported);
        return;
    }
    // A CUDA build: one object per ordinal, created without touching the GPU.
    ASSERT_TRUE(b.is_ok() && c.is_ok());
    EXPECT_EQ(*a, *b) << "'cuda' is cuda:0";
    EXPECT_NE(*b, *c);
    EXPECT_EQ((*b)->name(), "cuda:0");
    EXPECT_EQ((*c)->name(), "cuda:1");
    EXPECT_TRUE((*b)->prefers_fp16());
    EXPECT_EQ((*b)->staging_memory(), MemoryKind::kPinned);
}

TEST(DeviceError, OneClassificationOfStatusCodes) {
    EXPECT_EQ(classify_device_error(Status::ok()), DeviceErrorClass::kNone);
    EXPECT_EQ(classify_device_error(device_error("x")), DeviceErrorClass::kTransient);
    EXPECT_EQ(classify_device_error(internal_error("x")), DeviceErrorClass::kTransient);
    EXPECT_EQ(classify_device_error(unavailable("x")), DeviceErrorClass::kTransient);
    EXPECT_EQ(classify_device_error(io_error("x")), DeviceErrorClass::kTransient);
    EXPECT_EQ(classify_device_error(out_of_memory("x")), DeviceErrorClass::kOutOfMemory);
    EXPECT_EQ(classify_device_error(device_lost("x")), DeviceErrorClass::kSticky);
    for (const Status& s : {invalid_argument("x"), corrupt("x"), unsupported("x"), cancelled("x")})
        EXPECT_EQ(classify_device_error(s), DeviceErrorClass::kNotDevice) << s.to_string();
    EXPECT_STREQ(device_error_class_name(DeviceErrorClass::kTransient), "transient");
    EXPECT_STREQ(device_error_class_name(DeviceErrorClass::kOutOfMemory), "out_of_memory");
    EXPECT_STREQ(device_error_class_name(DeviceErrorClass::kSticky), "sticky");
    EXPECT_STREQ(device_error_class_name(DeviceErrorClass::kNotDevice), "not_device");
    EXPECT_STREQ(device_error_class_name(DeviceErrorClass::kNone), "none");
}
