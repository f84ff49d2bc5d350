// The `cluster:` section: validation with messages naming the key, its place in the config file (positions,
// environment overrides, the round trip through to_yaml), and a config without it behaving as before.
#include "cluster/cluster_config.h"

#include <gtest/gtest.h>

#include <cmath>

#include "config/config.h"

namespace itscam::cluster {
namespace {

ClusterConfig enabled() {
    ClusterConfig c;
    c.enabled = true;
    return c;
}

void expect_error(const ClusterConfig& c, const std::string& needle) {
    const Status st = validate_cluster_config(c);
    ASSERT_FALSE(st.is_ok()) << "expected an error with '" << needle << "'";
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.message();
}

TEST(ClusterConfig, DefaultsAreValidAndADisabledSectionIsNotChecked) {
    EXPECT_TRUE(validate_cluster_config(enabled()).is_ok());
    ClusterConfig off;
    off.lease_ttl_s = 0;
    off.endpoints.clear();
    EXPECT_TRUE(validate_cluster_config(off).is_ok());
    EXPECT_EQ(enabled().lease_ttl_s, 10);
    EXPECT_EQ(enabled().key_prefix, "/itscam");
    EXPECT_DOUBLE_EQ(effective_reconcile_interval_s(enabled()), 1.0);
    ClusterConfig fast = enabled();
    fast.lease_ttl_s = 2;
    EXPECT_DOUBLE_EQ(effective_reconcile_interval_s(fast), 0.4);
    fast.reconcile_interval_s = 0.1;
    EXPECT_DOUBLE_EQ(effective_reconcile_interval_s(fast), 0.1);
    EXPECT_DOUBLE_EQ(effective_request_timeout_s(enabled()), 2.0);
    EXPECT_NEAR(effective_request_timeout_s(fast), 2.0 / 3, 1e-12);  // a short lease shortens the calls
    fast.request_timeout_s = 0.5;
    EXPECT_DOUBLE_EQ(effective_request_timeout_s(fast), 0.5);
    EXPECT_FALSE(default_cluster_node().empty());
    EXPECT_EQ(effective_cluster_node(enabled()), default_cluster_node());
}

TEST(ClusterConfig, BadValuesNameTheKey) {
    auto c = enabled();
    c.lease_ttl_s = 1;
    expect_error(c, "cluster.lease_ttl_s: 1 is out of range 2..300");
    c.lease_ttl_s = 301;
    expect_error(c, "cluster.lease_ttl_s: 301");
    c = enabled();
    c.endpoints.clear();
    expect_error(c, "cluster.endpoints: at least one etcd endpoint");
    c.endpoints = {"http://127.0.0.1:2379", "10.0.0.1:2379"};
    expect_error(c, "cluster.endpoints[1]: '10.0.0.1:2379' is not an http://host:port URL");
    c.endpoints = {"https://etcd:2379"};
    expect_error(c, "https is not supported yet");
    for (const char* bad : {"http://", "http://host", "http://host:", "http://host:x", "http://host:2379/v3",
                            "http://user@host:2379", "http://ho st:1", "http://[::1:1", "ftp://h:1"}) {
        c.endpoints = {bad};
        expect_error(c, "cluster.endpoints[0]");
    }
    c.endpoints = {"http://host:0"};
    expect_error(c, "port 0 is out of range 1..65535");
    c.endpoints = {"http://[::1]:2379", "http://etcd-1.example:2379"};
    EXPECT_TRUE(validate_cluster_config(c).is_ok());
    c = enabled();
    c.node = "a/b";
    expect_error(c, "cluster.node: 'a/b' must match");
    c.node = std::string(65, 'n');
    expect_error(c, "cluster.node");
    c.node = "..";
    expect_error(c, "cluster.node");
    c = enabled();
    c.capacity = 0;
    expect_error(c, "cluster.capacity: 0 must be > 0");
    c.capacity = std::nan("");
    expect_error(c, "cluster.capacity");
    c = enabled();
    c.reconcile_interval_s = 6;  // > lease_ttl_s / 2
    expect_error(c, "cluster.reconcile_interval_s: 6 must be 0 (automatic) or 0.05 .. lease_ttl_s / 2 (5)");
    c.reconcile_interval_s = 0.01;
    expect_error(c, "cluster.reconcile_interval_s");
    c = enabled();
    c.request_timeout_s = 4;  // > lease_ttl_s / 3
    expect_error(c, "cluster.request_timeout_s: 4 must be 0 (automatic) or 0.1 .. lease_ttl_s / 3 (3.333333)");
    c.request_timeout_s = 0.05;
    expect_error(c, "cluster.request_timeout_s: 0.05");
    c = enabled();
    c.advertise = "10.0.0.1:8000";
    expect_error(c, "cluster.advertise: '10.0.0.1:8000' is not an http://host:port URL");
    c = enabled();
    c.key_prefix = "itscam";
    expect_error(c, "cluster.key_prefix: 'itscam' must start with '/'");
    c.key_prefix = "/itscam/";
    expect_error(c, "must not end with '/'");
}

#ifdef ITSCAM_HAVE_YAML

TEST(ClusterConfigFile, WithoutTheSectionNothingChanges) {
    const Result<config::Config> r = config::parse_config("device: cpu\n", "t.yaml");
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->cluster, ClusterConfig{});
    EXPECT_FALSE(r->cluster.enabled);
}

TEST(ClusterConfigFile, TheSectionTurnsClusterModeOn) {
    const std::string yaml =
        "cluster:\n"
        "  endpoints: [http://127.0.0.1:2379, 'http://10.0.0.2:2379']\n"
        "  node: edge-3\n"
        "  capacity: 8\n"
        "  lease_ttl_s: 15\n"
        "  advertise: http://10.0.0.13:8000\n";
    const Result<config::Config> r = config::parse_config(yaml, "t.yaml");
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    const ClusterConfig& c = r->cluster;
    EXPECT_TRUE(c.enabled);
    EXPECT_EQ(c.endpoints, (std::vector<std::string>{"http://127.0.0.1:2379", "http://10.0.0.2:2379"}));
    EXPECT_EQ(c.node, "edge-3");
    EXPECT_DOUBLE_EQ(c.capacity, 8);
    EXPECT_EQ(c.lease_ttl_s, 15);
    EXPECT_EQ(c.advertise, "http://10.0.0.13:8000");

    // The printed config reads back the same.
    const Result<config::Config> again = config::parse_config(config::to_yaml(*r), "printed.yaml");
    ASSERT_TRUE(again.is_ok()) << again.status().message() << "\n" << config::to_yaml(*r);
    EXPECT_EQ(again->cluster, c);
    // ... also a disabled section (to_yaml always writes it).
    const Result<config::Config> plain = config::parse_config("device: cpu\n", "t.yaml");
    const Result<config::Config> plain_again = config::parse_config(config::to_yaml(*plain), "printed.yaml");
    ASSERT_TRUE(plain_again.is_ok()) << plain_again.status().message();
    EXPECT_FALSE(plain_again->cluster.enabled);

    const Result<config::Config> off = config::parse_config("cluster: {enabled: false, lease_ttl_s: 1}\n", "t.yaml");
    ASSERT_TRUE(off.is_ok()) << off.status().message();
    EXPECT_FALSE(off->cluster.enabled);
}

TEST(ClusterConfigFile, ErrorsPointAtTheKey) {
    auto error = [](const std::string& yaml, const config::Env* env = nullptr) {
        const Result<config::Config> r = config::parse_config(yaml, "t.yaml", env);
        return r.is_ok() ? std::string("OK") : r.status().message();
    };
    EXPECT_EQ(error("cluster:\n  lease_ttl_s: 1\n"), "t.yaml:2:16: cluster.lease_ttl_s: 1 is out of range 2..300");
    EXPECT_EQ(error("cluster:\n  endpoints:\n    - http://a:1\n    - nope\n"),
              "t.yaml:4:7: cluster.endpoints[1]: 'nope' is not an http://host:port URL");
    EXPECT_EQ(error("cluster:\n  endpoints: http://a:1\n"),
              "t.yaml:2:14: cluster.endpoints: expected a list of strings, got 'http://a:1'");
    EXPECT_EQ(error("cluster:\n  endpoints: [[x]]\n"), "t.yaml:2:15: cluster.endpoints[0]: expected a string, got a list");
    EXPECT_EQ(error("cluster:\n  lease_ttl: 5\n"),
              "t.yaml:2:3: cluster: unknown setting 'lease_ttl' (did you mean 'lease_ttl_s'?)");
    EXPECT_EQ(error("clustr:\n  node: a\n"), "t.yaml:1:1: unknown setting 'clustr' (did you mean 'cluster'?)");
    EXPECT_EQ(error("cluster: [1]\n"), "t.yaml:1:10: cluster: expected a map, got a list");
    EXPECT_EQ(error("cluster:\n  node: \"a\\x01\"\n"),
              "t.yaml:2:9: cluster.node: contains a control character ('\\x01' at byte 1), got 'a\\x01'");
}

TEST(ClusterConfigFile, EnvironmentOverrides) {
    const config::Env env = {{"ITSCAM_CLUSTER_ENDPOINTS", "http://e1:2379, http://e2:2379"},
                             {"ITSCAM_CLUSTER_NODE", "from-env"},
                             {"ITSCAM_CLUSTER_LEASE_TTL_S", "20"}};
    const Result<config::Config> r = config::parse_config("cluster:\n  node: from-file\n", "t.yaml", &env);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->cluster.endpoints, (std::vector<std::string>{"http://e1:2379", "http://e2:2379"}));
    EXPECT_EQ(r->cluster.node, "from-env");
    EXPECT_EQ(r->cluster.lease_ttl_s, 20);

    const config::Env on = {{"ITSCAM_CLUSTER_ENABLED", "yes"}, {"ITSCAM_CLUSTER_ENDPOINTS", "[http://e1:2379]"}};
    const Result<config::Config> from_env = config::config_from_env(on);
    ASSERT_TRUE(from_env.is_ok()) << from_env.status().message();
    EXPECT_TRUE(from_env->cluster.enabled);
    EXPECT_EQ(from_env->cluster.endpoints, std::vector<std::string>{"http://e1:2379"});

    const Result<config::Config> bad = config::config_from_env(
        {{"ITSCAM_CLUSTER_ENABLED", "1"}, {"ITSCAM_CLUSTER_ENDPOINTS", "http://e1:2379,,http://e2:2379"}});
    ASSERT_FALSE(bad.is_ok());
    EXPECT_NE(bad.status().message().find("ITSCAM_CLUSTER_ENDPOINTS"), std::string::npos) << bad.status().message();
    const Result<config::Config> bad_ttl =
        config::config_from_env({{"ITSCAM_CLUSTER_ENABLED", "1"}, {"ITSCAM_CLUSTER_LEASE_TTL_S", "500"}});
    ASSERT_FALSE(bad_ttl.is_ok());
    EXPECT_EQ(bad_ttl.status().message(),
              "environment: ITSCAM_CLUSTER_LEASE_TTL_S='500': 500 is out of range 2..300");
}

#endif  // ITSCAM_HAVE_YAML

}  // namespace
}  // namespace itscam::cluster
