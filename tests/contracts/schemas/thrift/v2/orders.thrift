// Orders and payments over Thrift, version 2: every change from version 1 is one a deployed reader survives.
namespace py shop.orders

enum Currency {
  EUR = 1,
  USD = 2,
}

enum Status {
  PLACED = 1,
  PAID = 2,
  SHIPPED = 3,
}

struct Money {
  1: required Currency currency,
  2: required i64 units,
  3: optional i32 nanos,
}

struct Line {
  1: required string sku,
  2: optional i32 quantity = 1,
  3: optional Money price,
  4: optional list<string> tags,
}

union Payment {
  1: string card_token,
  2: string voucher_code,
}

struct Order {
  1: required string id,
  2: optional string customer_id,
  3: optional Status status,
  4: optional list<Line> lines,
  5: optional map<string, string> labels,
  6: optional Money total,
  7: optional i64 placed_at,
  8: optional Payment payment,
  9: optional set<string> coupons,
  // 10: signature, retired: never reuse id 10
  11: optional map<string, Money> fees,
  12: optional string gift_message,
}

// Published on the broker when an order is cancelled.
struct OrderCancelled {
  1: required string order_id,
  2: optional string reason,
  3: optional Money refund,
}

exception OrderNotFound {
  1: string order_id,
}

exception PaymentDeclined {
  1: string reason,
  2: optional Money amount,
}

service Orders {
  string place_order(1: Order order, 2: string idempotency_key),
  Order get_order(1: string order_id) throws (1: OrderNotFound not_found),
  list<Order> list_orders(1: string customer_id, 2: set<Status> statuses),
  Money capture(1: string order_id, 2: Money amount) throws (1: OrderNotFound not_found, 2: PaymentDeclined declined),
  oneway void order_viewed(1: string order_id),
  void cancel_order(1: string order_id, 2: string reason) throws (1: OrderNotFound not_found),
}

service Payments {
  Money refund(1: string order_id, 2: Money amount),
}
