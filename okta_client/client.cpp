#include "okta_client/client.h"

#include <boost/asio/post.hpp>

namespace og::okta {

boost::system::result<std::unique_ptr<Client>, std::string> Client::create(boost::asio::io_context& io,
                                                                           ClientConfig config,
                                                                           std::shared_ptr<Authenticator> auth) {
  auto transport = Transport::create(io, config.transport, std::move(auth));
  if (!transport) return transport.error();
  Transport* raw = transport->get();
  // The SendFn captures the raw pointer: the Client owns the transport and outlives its users.
  SendFn send = [raw](Request r, ResponseHandler h) { raw->send(std::move(r), std::move(h)); };
  return std::unique_ptr<Client>(new Client(io, std::move(*transport), std::move(send), std::move(config)));
}

Client::Client(boost::asio::io_context& io, SendFn send, ClientConfig config)
    : Client(io, nullptr, std::move(send), std::move(config)) {}

Client::Client(boost::asio::io_context& io, std::unique_ptr<Transport> transport, SendFn send, ClientConfig config)
    : io_(io),
      transport_(std::move(transport)),
      actions_(std::make_shared<ActionRunner>(send, config.actions)),
      lookups_(std::make_shared<Lookups>(send, config.lookups)),
      identity_(std::make_unique<IdentityResolver>(io, send, std::move(config.identity), config.lookups)) {}

Client::~Client() {
  shutdown();
}

void Client::execute(Action action, ActionRunner::Done done) {
  boost::asio::post(io_, [actions = actions_, action = std::move(action), done = std::move(done)]() mutable {
    actions->execute(std::move(action), std::move(done));
  });
}

void Client::get_user(std::string user_id, Lookups::Callback<OktaUser> cb) {
  boost::asio::post(io_, [lookups = lookups_, id = std::move(user_id), cb = std::move(cb)]() mutable {
    lookups->get_user(std::move(id), std::move(cb));
  });
}

void Client::list_user_groups(std::string user_id, Lookups::Callback<std::vector<OktaGroup>> cb) {
  boost::asio::post(io_, [lookups = lookups_, id = std::move(user_id), cb = std::move(cb)]() mutable {
    lookups->list_user_groups(std::move(id), std::move(cb));
  });
}

void Client::list_group_members(std::string group_id, Lookups::Callback<std::vector<OktaUser>> cb) {
  boost::asio::post(io_, [lookups = lookups_, id = std::move(group_id), cb = std::move(cb)]() mutable {
    lookups->list_group_members(std::move(id), std::move(cb));
  });
}

void Client::get_user_by_login(std::string login, Lookups::Callback<OktaUser> cb) {
  boost::asio::post(io_, [lookups = lookups_, login = std::move(login), cb = std::move(cb)]() mutable {
    lookups->get_user_by_login(std::move(login), std::move(cb));
  });
}

void Client::shutdown() {
  if (transport_) transport_->shutdown();
}

}  // namespace og::okta
