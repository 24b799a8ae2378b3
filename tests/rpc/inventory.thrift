// The test service of the Thrift stub's tests: a warehouse inventory, with the shapes real services
// have (nested structs, an enum, containers, optional fields, declared exceptions, a oneway call).
namespace py inventory

enum Currency {
  EUR = 1,
  USD = 2,
}

struct Money {
  1: required i64 cents,
  2: required Currency currency,
}

struct Item {
  1: required string sku,
  2: required string name,
  3: optional Money price,
  4: list<string> tags,
}

struct Reservation {
  1: required string reservation_id,
  2: required string sku,
  3: required i32 quantity,
  4: optional i64 expires_at,
}

// Not retryable: the item does not exist, asking again changes nothing.
exception ItemNotFound {
  1: required string sku,
  2: optional string reason,
}

exception OutOfStock {
  1: required string sku,
  2: required i32 available,
}

service Inventory {
  Item get_item(1: string sku) throws (1: ItemNotFound not_found),
  Reservation reserve(1: string sku, 2: i32 quantity) throws (1: ItemNotFound not_found, 2: OutOfStock out_of_stock),
  list<Item> list_items(1: i32 limit, 2: optional string after),
  map<string, i32> stock_levels(1: set<string> skus),
  bool ping(),
  void release(1: string reservation_id),
  oneway void audit(1: string event, 2: map<string, string> fields),
}
