"""What every part of the product stands on: the database (engine, models, migrations), the job
queue, domain errors, retries, phone numbers, the audit log, the product's words (`Templates`) and
the ports through which the domain reaches outside systems it must not import."""
