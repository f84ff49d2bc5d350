// core/regular_file.h: every kind of non-regular path is named for what it is, a named pipe never blocks, and a
// regular file reads back whole.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "core/regular_file.h"

namespace itscam {
namespace {

// One scratch directory per test, removed when the test program exits.
struct ScratchDirs {
    std::vector<std::string> dirs;
    ~ScratchDirs() {
        std::error_code ec;
        for (const std::string& d : dirs) std::filesystem::remove_all(d, ec);
    }
};

std::string scratch(const std::string& name) {
    static ScratchDirs made;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::string dir = (std::filesystem::temp_directory_path() /
                             ("itscam_regular_file_" + std::to_string(::getpid()) + "_" + info->name()))
                                .string();
    if (std::filesystem::create_directories(dir)) made.dirs.push_back(dir);
    return dir + "/" + name;
}

std::string message(const Status& st) {
    return st.is_ok() ? "OK" : st.message();
}

TEST(RegularFile, AcceptsAndReadsARegularFile) {
    const std::string path = scratch("model.onnx");
    {
        std::ofstream f(path, std::ios::binary);
        f << "hello";
    }
    EXPECT_TRUE(check_regular_file(path, "m: ").is_ok());
    auto f = RegularFile::open(path, "m: ");
    ASSERT_TRUE(f.is_ok()) << f.status().message();
    EXPECT_EQ(f->size(), 5u);
    auto text = f->read_all(100);
    ASSERT_TRUE(text.is_ok());
    EXPECT_EQ(*text, "hello");
    // A limit below the size is an error, not a silent truncation.
    auto small = f->read_all(4);
    ASSERT_FALSE(small.is_ok());
    EXPECT_EQ(small.status().message(), "m: is larger than 4 bytes");
}

TEST(RegularFile, NamesEveryOtherKind) {
    EXPECT_EQ(message(check_regular_file(scratch("missing"), "x: ")), "x: no such file");
    EXPECT_EQ(check_regular_file(scratch("missing"), "x: ").code(), StatusCode::kNotFound);
    const std::string dir = scratch("dir");
    std::filesystem::create_directories(dir);
    EXPECT_EQ(message(check_regular_file(dir, "x: ")), "x: is a directory");
    EXPECT_EQ(message(RegularFile::open(dir, "x: ").status()), "x: is a directory");
    EXPECT_EQ(message(check_regular_file("/dev/zero", "x: ")), "x: is a character device, not a regular file");
    EXPECT_EQ(message(check_regular_file("/dev/null", "x: ")), "x: is a character device, not a regular file");
    // /proc files are regular by mode but report size 0 and generate their content on read.
    EXPECT_EQ(message(check_regular_file("/proc/self/status", "x: ")),
              "x: is a /proc or /sys file, not a regular file");
    EXPECT_EQ(message(RegularFile::open("/proc/self/status", "x: ").status()),
              "x: is a /proc or /sys file, not a regular file");
    EXPECT_EQ(message(check_regular_file(std::string("a\0b", 3), "x: ")), "x: the path contains a NUL byte");
    EXPECT_EQ(message(check_regular_file("", "x: ")), "x: the path is empty");

    const std::string sock = scratch("s.sock");
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    ASSERT_LT(sock.size(), sizeof(addr.sun_path));
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(message(check_regular_file(sock, "x: ")), "x: is a socket, not a regular file");
    ::close(fd);
}

TEST(RegularFile, NamedPipeIsRefusedWithoutBlocking) {
    const std::string fifo = scratch("model.fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(message(check_regular_file(fifo, "model file: ")), "model file: is a named pipe, not a regular file");
    // No writer ever opens the pipe: a blocking open() would hang here.
    EXPECT_EQ(message(RegularFile::open(fifo, "model file: ").status()),
              "model file: is a named pipe, not a regular file");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

TEST(RegularFile, DescribesModes) {
    EXPECT_EQ(describe_non_regular(S_IFREG), "");
    EXPECT_EQ(describe_non_regular(S_IFBLK), "is a block device, not a regular file");
    EXPECT_EQ(describe_non_regular(S_IFIFO), "is a named pipe, not a regular file");
}

}  // namespace
}  // namespace itscam
