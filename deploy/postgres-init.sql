-- One database per service on the compose PostgreSQL.
CREATE DATABASE trials OWNER app;
CREATE DATABASE grader OWNER app;
CREATE DATABASE collector OWNER app;
CREATE DATABASE orders_a OWNER app;
CREATE DATABASE orders_b OWNER app;
