-- pgbench -f: a customer looks at their recent orders.
\set cid random(1, 100000)
SELECT id, status, total, created_at FROM orders WHERE customer_id = :cid ORDER BY created_at DESC LIMIT 10;
SELECT sum(qty * price) FROM order_items WHERE order_id = (SELECT max(id) FROM orders WHERE customer_id = :cid);
