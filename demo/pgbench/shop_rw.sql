-- pgbench -f: a checkout (read a customer, place an order with one item).
\set cid random(1, 100000)
\set pid random(1, 5000)
\set qty random(1, 3)
BEGIN;
SELECT id, name, country FROM customers WHERE id = :cid;
INSERT INTO orders (customer_id, status, total) VALUES (:cid, 'new', 0) RETURNING id AS order_id \gset
INSERT INTO order_items (order_id, line, product_id, qty, price) VALUES (:order_id, 1, :pid, :qty, 19.99);
UPDATE orders SET total = :qty * 19.99, status = 'paid' WHERE id = :order_id;
COMMIT;
