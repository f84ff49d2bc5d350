// A real etcd (Debian's etcd-server, /usr/bin/etcd) on free loopback ports with a temporary data folder, for the
// tests of the cluster library: started, killed (SIGKILL, as a crash) and started again on the same ports and data.
#pragma once

#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../common/loopback_util.h"
#include "cluster/etcd_client.h"

namespace itscam::cluster::etcd_test {

using namespace itscam::test_util;  // NOLINT: TempDir, free_port, wait_until, ...

inline constexpr const char* kEtcdBin = "/usr/bin/etcd";

inline bool have_etcd() { return ::access(kEtcdBin, X_OK) == 0; }

#define ITSCAM_REQUIRE_ETCD()                                                                                     \
    if (!::itscam::cluster::etcd_test::have_etcd())                                                               \
    GTEST_SKIP() << "etcd is not installed (" << ::itscam::cluster::etcd_test::kEtcdBin                          \
                 << "; Debian package etcd-server, see scripts/install-deps.sh)"

class TestEtcd {
public:
    TestEtcd() : dir_("etcd") {
        client_port_ = free_port();
        do peer_port_ = free_port();
        while (peer_port_ == client_port_);
    }

    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
    const TempDir& dir() const { return dir_; }

    // Starts etcd and waits (up to 15 s) until it answers /health.
    bool start() {
        const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
        if (!child_.spawn({kEtcdBin, "--name=t", "--data-dir=" + dir_.str("data"), "--listen-client-urls=" + endpoint(),
                           "--advertise-client-urls=" + endpoint(), "--listen-peer-urls=" + peer,
                           "--initial-advertise-peer-urls=" + peer, "--initial-cluster=t=" + peer, "--log-level=warn"},
                          dir_.str("etcd.log")))
            return false;
        EtcdClientOptions o;
        o.endpoints = {endpoint()};
        o.connect_timeout_s = 0.2;
        o.request_timeout_s = 0.5;
        auto client = EtcdClient::create(o);
        if (!client) return false;
        return wait_until([&] { return (*client)->health().is_ok(); }, 15);
    }

    // SIGKILL: etcd vanishes as in a crash.
    void kill() { child_.kill(); }

    std::string log() const { return read_file(dir_.str("etcd.log")); }

private:
    TempDir dir_;
    int client_port_ = 0, peer_port_ = 0;
    ChildProcess child_;
};

// A client of `etcd` with short timeouts (the tests' clusters run on loopback).
inline std::unique_ptr<EtcdClient> test_client(const std::vector<std::string>& endpoints) {
    EtcdClientOptions o;
    o.endpoints = endpoints;
    o.connect_timeout_s = 0.3;
    o.request_timeout_s = 0.5;
    auto c = EtcdClient::create(o);
    EXPECT_TRUE(c.is_ok()) << c.status().message();
    return c ? std::move(*c) : nullptr;
}

// A test with its own etcd (skipped without the binary) and a client of it.
class WithEtcd : public ::testing::Test {
protected:
    void SetUp() override {
        ITSCAM_REQUIRE_ETCD();
        ASSERT_TRUE(etcd_.start()) << etcd_.log();
        client_ = test_client({etcd_.endpoint()});
        ASSERT_NE(client_, nullptr);
    }

    TestEtcd etcd_;
    std::unique_ptr<EtcdClient> client_;
};

}  // namespace itscam::cluster::etcd_test
