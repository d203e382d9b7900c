"""The corridor API's routes, one module per area; each builds an APIRouter over the running corridor."""
