#include "span/peer_namer.h"

#include <gtest/gtest.h>

#include <vector>

namespace spanwire {
namespace {

struct Recorder final : SpanConsumer {
  std::vector<Span> spans;
  void consume(Span s) override { spans.push_back(std::move(s)); }
  void flush(std::chrono::milliseconds) override {}
};

Span client(std::string peer_ip, std::string server_address) {
  Span s;
  s.kind = SpanKind::kClient;
  s.attributes = {{"server.address", std::move(server_address)}, {"network.peer.address", std::move(peer_ip)}};
  return s;
}

TEST(PeerNamer, NamesClientPeersTheOrchestratorKnows) {
  Recorder out;
  PeerNamer namer(
      [](std::string_view ip) -> std::optional<std::string> {
        if (ip == "10.0.0.7") return "cart";      // a pod
        if (ip == "10.96.0.20") return "payments";  // a Service's cluster IP
        return std::nullopt;
      },
      out);
  namer.consume(client("10.0.0.7", "cart.shop.svc"));       // by the socket's peer
  namer.consume(client("192.168.1.1", "10.96.0.20"));       // by the address the client asked for
  namer.consume(client("192.168.1.1", "example.com"));      // unknown: left alone
  Span server = client("10.0.0.7", "10.0.0.7");
  server.kind = SpanKind::kServer;                                // servers are not callers
  namer.consume(server);
  ASSERT_EQ(out.spans.size(), 4u);
  EXPECT_EQ(out.spans[0].string_attr("peer.service"), "cart");
  EXPECT_EQ(out.spans[1].string_attr("peer.service"), "payments");
  EXPECT_EQ(out.spans[2].find("peer.service"), nullptr);
  EXPECT_EQ(out.spans[3].find("peer.service"), nullptr);
}

}  // namespace
}  // namespace spanwire
