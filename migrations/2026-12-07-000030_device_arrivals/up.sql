-- How many of a user's operations have arrived from each device, kept (issue 29): the device
-- report compares it with what the device says it created and still holds, on every contact, and
-- counting them read all of a device's operations each time (a year of a van's tablet).
-- Kept in the operation's own transaction, so it agrees with the operations a report can see.
CREATE TABLE device_arrivals (
    user_id   BIGINT NOT NULL,
    device_id TEXT NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

-- SECURITY DEFINER: kept whichever role records the operation.
CREATE FUNCTION device_arrivals_count() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.device_id IS NOT NULL THEN
        UPDATE public.device_arrivals SET n = n - 1
         WHERE user_id = OLD.actor_id AND device_id = OLD.device_id;
    END IF;
    IF NEW.device_id IS NOT NULL THEN
        INSERT INTO public.device_arrivals (user_id, device_id, n) VALUES (NEW.actor_id, NEW.device_id, 1)
        ON CONFLICT (user_id, device_id) DO UPDATE SET n = device_arrivals.n + 1;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE TRIGGER device_arrivals_insert AFTER INSERT ON operations
    FOR EACH ROW WHEN (NEW.device_id IS NOT NULL)
    EXECUTE FUNCTION device_arrivals_count();
-- An operation refused as invalid is taken over by its corrected resend, possibly from another
-- device.
CREATE TRIGGER device_arrivals_moved AFTER UPDATE OF actor_id, device_id ON operations
    FOR EACH ROW WHEN (OLD.actor_id IS DISTINCT FROM NEW.actor_id OR OLD.device_id IS DISTINCT FROM NEW.device_id)
    EXECUTE FUNCTION device_arrivals_count();

INSERT INTO device_arrivals (user_id, device_id, n)
SELECT actor_id, device_id, count(*) FROM operations WHERE device_id IS NOT NULL GROUP BY 1, 2;

-- Only the count read this index.
DROP INDEX operations_device_idx;
