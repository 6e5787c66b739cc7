//! placeholder
#[derive(Debug)]
pub struct Client;
#[derive(Debug)]
pub struct ClientConfig;
#[derive(Debug)]
pub enum ClientEvent {}
#[derive(Debug)]
pub enum ClientState {}
#[derive(Debug)]
pub struct Delivery;
