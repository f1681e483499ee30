DROP TABLE stock_adjustments;
