#pragma once

// The daemon's entry point to Okta: one Transport plus the actions, lookups and identity resolver
// that use it. Thread-safe: every method may be called from any thread; work is posted to the
// io_context thread and callbacks run there (identity answers known in memory run on the caller).

#include <boost/asio/io_context.hpp>

#include <memory>

#include "okta_client/actions.h"
#include "okta_client/identity.h"
#include "okta_client/lookups.h"
#include "okta_client/transport.h"

namespace og::okta {

struct ClientConfig {
  TransportConfig transport;
  ActionOptions actions;
  LookupOptions lookups;
  IdentityOptions identity;
};

class Client {
 public:
  // Fails (with a message free of secrets) when the transport cannot be built.
  static boost::system::result<std::unique_ptr<Client>, std::string> create(boost::asio::io_context& io,
                                                                            ClientConfig config,
                                                                            std::shared_ptr<Authenticator> auth);
  // Over a caller-provided SendFn (tests, or a transport owned elsewhere).
  Client(boost::asio::io_context& io, SendFn send, ClientConfig config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void execute(Action action, ActionRunner::Done done);

  // Lookups, run on the io thread.
  void get_user(std::string user_id, Lookups::Callback<OktaUser> cb);
  void list_user_groups(std::string user_id, Lookups::Callback<std::vector<OktaGroup>> cb);
  void list_group_members(std::string group_id, Lookups::Callback<std::vector<OktaUser>> cb);
  void get_user_by_login(std::string login, Lookups::Callback<OktaUser> cb);

  IdentityResolver& identity() { return *identity_; }
  Transport* transport() { return transport_.get(); }  // null when built over a SendFn

  void shutdown();

 private:
  Client(boost::asio::io_context& io, std::unique_ptr<Transport> transport, SendFn send, ClientConfig config);

  boost::asio::io_context& io_;
  std::unique_ptr<Transport> transport_;
  std::shared_ptr<ActionRunner> actions_;
  std::shared_ptr<Lookups> lookups_;
  std::unique_ptr<IdentityResolver> identity_;
};

}  // namespace og::okta
