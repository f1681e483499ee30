DROP TABLE inventory_transactions, inventory_items;
