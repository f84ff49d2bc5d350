// MqttConfig validation (clear messages naming the key) and the topic names.
#include "events/events_config.h"

#include <gtest/gtest.h>

#include "events/mqtt_error_text.h"
#include "mqtt_test_util.h"

namespace itscam::events {
namespace {

MqttConfig enabled() {
    MqttConfig c;
    c.enabled = true;
    return c;
}

void expect_error(const MqttConfig& c, const std::string& needle) {
    const Status st = validate_mqtt_config(c);
    ASSERT_FALSE(st.is_ok()) << "expected an error with '" << needle << "'";
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.to_string();
}

TEST(MqttConfig, DefaultsAreValidAndADisabledSectionIsNotChecked) {
    EXPECT_TRUE(validate_mqtt_config(enabled()).is_ok());
    MqttConfig off;
    off.port = 0;
    EXPECT_TRUE(validate_mqtt_config(off).is_ok());
    EXPECT_EQ(off.qos, 1);
    EXPECT_EQ(off.spool_max_bytes(), 64 << 20);
}

TEST(MqttConfig, BadValuesNameTheKey) {
    auto c = enabled();
    c.port = 70000;
    expect_error(c, "mqtt.port: 70000 is out of range 1..65535");
    c = enabled();
    c.port = 0;
    expect_error(c, "mqtt.port");
    c = enabled();
    c.qos = 3;
    expect_error(c, "mqtt.qos: 3");
    c = enabled();
    c.host = "";
    expect_error(c, "mqtt.host is empty");
    c = enabled();
    c.keepalive_s = 1;
    expect_error(c, "mqtt.keepalive_s");
    c = enabled();
    c.max_inflight = 0;
    expect_error(c, "mqtt.max_inflight");
    c = enabled();
    c.password = "secret";
    expect_error(c, "mqtt.password is set without mqtt.username");
    c = enabled();
    c.spool_max_mb = 0.001;
    expect_error(c, "mqtt.spool_max_mb");
    c = enabled();
    c.spool_dir = "";
    expect_error(c, "mqtt.spool_dir is empty");
    c = enabled();
    c.reconnect_min_s = 0;
    expect_error(c, "mqtt.reconnect_min_s");
    c = enabled();
    c.reconnect_max_s = 0.1;
    expect_error(c, "mqtt.reconnect_max_s");
    for (const char* bad : {"a/+", "#", "a//b", "/a", "a/", "$SYS"}) {
        c = enabled();
        c.topic_prefix = bad;
        expect_error(c, "mqtt.topic_prefix");
    }
    c = enabled();
    c.topic_prefix = "site1/itscam";  // several levels are fine
    EXPECT_TRUE(validate_mqtt_config(c).is_ok());
    c = enabled();
    c.node = "a/b";
    expect_error(c, "mqtt.node");
}

TEST(MqttConfig, TlsFilesMustExistAndComeInPairs) {
    testing::TempDir d("mqtt_cfg_tls");
    const std::string ca = d.str("ca.pem"), cert = d.str("c.pem"), key = d.str("k.pem");
    testing::write_file(ca, "x");
    testing::write_file(cert, "x");
    testing::write_file(key, "x");
    auto c = enabled();
    c.tls_key_file = key;
    expect_error(c, "mqtt.tls_key_file is set without mqtt.tls_cert_file");
    c = enabled();
    c.tls_ca_file = ca;
    c.tls_cert_file = cert;
    expect_error(c, "mqtt.tls_cert_file is set without mqtt.tls_key_file");
    c = enabled();
    c.tls_cert_file = cert;
    c.tls_key_file = key;
    expect_error(c, "needs mqtt.tls_ca_file");
    c = enabled();
    c.tls_insecure = true;
    expect_error(c, "mqtt.tls_insecure is set but TLS is off");
    c = enabled();
    c.tls_ca_file = d.str("missing.pem");
    expect_error(c, "mqtt.tls_ca_file '" + d.str("missing.pem") + "'");
    c = enabled();
    c.tls_ca_file = d.path().string();  // a folder
    expect_error(c, "is a directory");
    c = enabled();
    c.tls_ca_file = ca;
    c.tls_cert_file = cert;
    c.tls_key_file = d.str("nokey.pem");
    expect_error(c, "mqtt.tls_key_file");
    c.tls_key_file = key;
    EXPECT_TRUE(validate_mqtt_config(c).is_ok());
}

TEST(MqttConfig, Topics) {
    MqttConfig c;
    c.node = "edge-1";
    EXPECT_EQ(*mqtt_events_topic(c, "cam_1.north"), "itscam/cam_1.north/events");
    EXPECT_EQ(*mqtt_counts_topic(c, "cam1"), "itscam/cam1/counts");
    EXPECT_EQ(*mqtt_status_topic(c), "itscam/edge-1/status");
    EXPECT_EQ(effective_mqtt_client_id(c), "itscam-edge-1");
    c.client_id = "custom";
    EXPECT_EQ(effective_mqtt_client_id(c), "custom");
    for (const char* bad : {"a+b", "a#", "a/b", ""}) {
        auto t = mqtt_events_topic(c, bad);
        ASSERT_FALSE(t.is_ok()) << bad;
        EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    }
    c.node.clear();
    const std::string node = default_mqtt_node();
    EXPECT_FALSE(node.empty());
    EXPECT_EQ(node.find_first_of("/+# "), std::string::npos) << node;
    EXPECT_EQ(*mqtt_status_topic(c), "itscam/" + node + "/status");
}

TEST(MqttErrorText, CredentialsRefusalsAreNamedAsSuch) {
    EXPECT_EQ(mqtt_connack_text("127.0.0.1:1883", 5),
              "MQTT broker 127.0.0.1:1883 refused the credentials (not authorised)");
    EXPECT_EQ(mqtt_connack_text("h:1", 4), "MQTT broker h:1 refused the credentials (bad user name or password)");
    EXPECT_EQ(mqtt_connack_text("h:1", 135), "MQTT broker h:1 refused the credentials (not authorised)");
    for (int c : {4, 5, 134, 135}) EXPECT_TRUE(mqtt_refused_credentials(c));
    for (int c : {0, 1, 2, 3, 128}) EXPECT_FALSE(mqtt_refused_credentials(c));
    EXPECT_NE(mqtt_connack_text("h:1", 2).find("identifier rejected"), std::string::npos);
}

}  // namespace
}  // namespace itscam::events
