#include "vision/npy.h"

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vision_test_util.h"

namespace itscam::vision {
namespace {

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A version 1.0 file with the given header dictionary and raw payload; the header is padded as numpy does.
std::string npy_v1(const std::string& dict, const std::string& payload) {
    std::string header = dict;
    while ((10 + header.size() + 1) % 64 != 0) header.push_back(' ');
    header.push_back('\n');
    std::string out("\x93NUMPY\x01\x00", 8);
    out.push_back(static_cast<char>(header.size() & 0xFF));
    out.push_back(static_cast<char>(header.size() >> 8));
    return out + header + payload;
}

std::string floats(std::initializer_list<float> v) {
    std::string s(v.size() * 4, '\0');
    std::memcpy(s.data(), v.begin(), s.size());
    return s;
}

bool load(const std::string& bytes, std::vector<float>& data, std::vector<int64_t>& shape, std::string& err) {
    const std::string path = test::temp_path("npy_case.npy");
    write_bytes(path, bytes);
    return npy_load_f32(path, data, shape, &err);
}

TEST(Npy, LoadsGoldenOutput) {
    std::vector<float> data;
    std::vector<int64_t> shape;
    std::string err;
    ASSERT_TRUE(npy_load_f32(test::shared_path("golden/bus_640.output.npy"), data, shape, &err)) << err;
    EXPECT_EQ(shape, (std::vector<int64_t>{1, 84, 8400}));
    ASSERT_EQ(data.size(), 84u * 8400u);
    // Row 0 is box cx in input pixels: the first anchors sit at the top-left of the stride-8 grid.
    EXPECT_GT(data[1], data[0]);
    EXPECT_LT(data[0], 16.f);
    for (float v : data) ASSERT_TRUE(std::isfinite(v));
}

TEST(Npy, ParsesHandWrittenHeaders) {
    std::vector<float> data;
    std::vector<int64_t> shape;
    std::string err;
    ASSERT_TRUE(load(npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", floats({1, 2, 3, 4, 5, 6})),
                     data, shape, err))
        << err;
    EXPECT_EQ(shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(data, (std::vector<float>{1, 2, 3, 4, 5, 6}));

    // Key order, quotes and spacing vary between writers; a 1-d shape has a trailing comma; 0-d is a scalar.
    ASSERT_TRUE(
        load(npy_v1("{\"shape\":(3,),\"fortran_order\":False,\"descr\":\"<f4\"}", floats({7, 8, 9})), data, shape, err))
        << err;
    EXPECT_EQ(shape, (std::vector<int64_t>{3}));
    EXPECT_EQ(data, (std::vector<float>{7, 8, 9}));
    ASSERT_TRUE(
        load(npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", floats({42})), data, shape, err));
    EXPECT_TRUE(shape.empty());
    EXPECT_EQ(data, (std::vector<float>{42}));
    ASSERT_TRUE(load(npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }", ""), data, shape, err));
    EXPECT_TRUE(data.empty());

    // Version 2.0: 4-byte header length.
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    while ((12 + dict.size() + 1) % 64 != 0) dict.push_back(' ');
    dict.push_back('\n');
    std::string v2("\x93NUMPY\x02\x00", 8);
    for (int i = 0; i < 4; ++i) v2.push_back(static_cast<char>((dict.size() >> (8 * i)) & 0xFF));
    ASSERT_TRUE(load(v2 + dict + floats({-1.5f, 2.5f}), data, shape, err)) << err;
    EXPECT_EQ(data, (std::vector<float>{-1.5f, 2.5f}));
}

TEST(Npy, RejectsUnsupportedOrMalformedFiles) {
    std::vector<float> data;
    std::vector<int64_t> shape;
    std::string err;
    struct Case {
        std::string bytes;
        const char* expect;  // substring of the error
    };
    const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    const Case cases[] = {
        {"", "too short"},
        {"PK\x03\x04 this is a zip", "magic"},
        {std::string("\x93NUMPY\x07\x00\x10\x00", 10) + std::string(16, ' '), "version"},
        {npy_v1("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", floats({1, 2, 3, 4})), "'<f8'"},
        {npy_v1("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", floats({1, 2})), "'>f4'"},
        {npy_v1("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", floats({1, 2})), "Fortran"},
        {npy_v1(ok_dict, floats({1})), "does not match"},
        {npy_v1(ok_dict, floats({1, 2, 3})), "does not match"},
        {npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }", ""), "shape"},
        {npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", ""), "large"},
        {npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", ""), "shape"},
        {npy_v1("{'descr': '<f4', 'shape': (2,), }", floats({1, 2})), "lacks"},
        {npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", floats({1, 2})), "'x'"},
        {npy_v1("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", floats({1, 2})), "descr"},
        {npy_v1("'descr': '<f4'", ""), "'{'"},
        {std::string("\x93NUMPY\x01\x00\xff\x7f", 10) + "{'descr'", "truncated"},
    };
    for (const Case& c : cases) {
        EXPECT_FALSE(load(c.bytes, data, shape, err)) << c.expect;
        EXPECT_NE(err.find(c.expect), std::string::npos) << "error '" << err << "' lacks '" << c.expect << "'";
        EXPECT_TRUE(data.empty());
        EXPECT_TRUE(shape.empty());
    }
    EXPECT_FALSE(npy_load_f32(test::temp_path("does_not_exist.npy"), data, shape, &err));
    EXPECT_NE(err.find("cannot open"), std::string::npos);
    EXPECT_FALSE(npy_load_f32(test::temp_path("does_not_exist.npy"), data, shape, nullptr));  // null err is fine
}

TEST(Npy, EveryTruncationFailsCleanly) {
    const std::string full =
        npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", floats({1, 2, 3, 4}));
    std::vector<float> data;
    std::vector<int64_t> shape;
    std::string err;
    for (size_t n = 0; n < full.size(); ++n) {
        EXPECT_FALSE(load(full.substr(0, n), data, shape, err)) << n;
    }
    EXPECT_TRUE(load(full, data, shape, err)) << err;
    // Corrupting each header byte must never crash (it may still parse, e.g. a changed padding space).
    for (size_t i = 0; i < full.size() - 16; ++i) {
        std::string bad = full;
        bad[i] = static_cast<char>(bad[i] ^ 0x5A);
        (void)load(bad, data, shape, err);
    }
}

TEST(Npy, SaveLoadRoundTrip) {
    const std::vector<float> v = {0.f, -1.f, 3.25f, 1e-30f, 7.f, 8.f};
    for (const auto& shape : {std::vector<int64_t>{6}, std::vector<int64_t>{1, 2, 3}, std::vector<int64_t>{3, 2}}) {
        const std::string path = test::temp_path("roundtrip.npy");
        std::string err;
        ASSERT_TRUE(npy_save_f32(path, v.data(), shape, &err)) << err;
        std::vector<float> data;
        std::vector<int64_t> got;
        ASSERT_TRUE(npy_load_f32(path, data, got, &err)) << err;
        EXPECT_EQ(got, shape);
        EXPECT_EQ(data, v);
        // numpy requires the data to start on a 64-byte boundary.
        std::ifstream f(path, std::ios::binary | std::ios::ate);
        EXPECT_EQ((static_cast<size_t>(f.tellg()) - v.size() * 4) % 64, 0u);
    }
}

}  // namespace
}  // namespace itscam::vision
